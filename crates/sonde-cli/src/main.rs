//! `sonde`: the analyzer for pprof profiles, Rust's and Go's alike.
//!
//! Every command reads one or more profiles, combines them (merge, `--base`,
//! `--diff-base`), applies the filters and prints a report in the layout of
//! `go tool pprof`, so numbers can be compared digit for digit.
//!
//! The map of the crate:
//!
//! * `main.rs`: the command table ([`Cmd`]) and one function per command.
//! * `options`: the flags every analysis command shares; the analyzer
//!   settings among them are made from `sonde_profile::report::SETTINGS`.
//! * `gocompat`: `go tool pprof`'s own command line (`-top`, `-sample_index=…`),
//!   rewritten into sonde's before clap reads it.
//! * `load`: reading profiles and combining them (`--base`, `--diff-base`).
//! * `fetch`: profiles from URLs, as `go tool pprof http://…` fetches them;
//!   `sonde fetch`.
//! * `store`: a sonde agent's profile store: `sonde store ls`, its time
//!   windows as input (`--store DIR --kind K --from T`), `sonde growth`.
//! * `shell`: the interactive `(pprof)` shell, with completion.
//! * `demo`: `sonde demo`, the seed article's examples and case studies run,
//!   profiled and diagnosed (each case in a child process of this binary).
//! * `alloc`: the global allocator: the system's for the analyzer, sonde's
//!   sampling one in a demo case's process.
//! * `web`: `sonde web`, the profile explorer in the browser (pprof's `-http`).
//! * `bench`: `cargo bench` with a fixed code layout, and `--layout-check`.
//! * Flame graphs are `sonde_profile::report::write_flame`'s (shared with the
//!   `/debug/pprof/flamegraph` endpoint).
//!
//! Numbers come from `sonde_profile::report` only; this crate parses the
//! command line and prints.

mod alloc;
mod bench;
mod demo;
mod fetch;
mod gocompat;
mod load;
mod options;
mod shell;
mod store;
mod web;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sonde_profile::report::{self, Command, Output};

use crate::options::{AnalysisArgs, with_env};

#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator::new();

/// sonde: profiling for Rust, the way Go programmers know it.
///
/// `sonde PROFILE` opens an interactive shell like `go tool pprof PROFILE`.
#[derive(Parser, Debug)]
#[command(name = "sonde", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// The entries with the most samples: flat, flat%, sum%, cum, cum% (go tool pprof -top).
    #[command(visible_alias = "text")]
    Top(ReportArgs),
    /// Annotated source of the functions matching REGEX (go tool pprof -list).
    List {
        /// Functions to list.
        regex: String,
        #[command(flatten)]
        args: ReportArgs,
    },
    /// Callers and callees of the entries matching REGEX (go tool pprof -peek).
    Peek {
        /// Entries to show.
        regex: String,
        #[command(flatten)]
        args: ReportArgs,
    },
    /// Every sample with its labels and stack (go tool pprof -traces).
    Traces(ReportArgs),
    /// Callers and callees of every entry (go tool pprof -tree).
    Tree(ReportArgs),
    /// The whole profile as text (go tool pprof -raw).
    Raw(ReportArgs),
    /// Label values and their share of the total (go tool pprof -tags).
    Tags(ReportArgs),
    /// Write the profile in another format, after filters.
    Convert {
        /// Output format.
        #[arg(long, value_enum)]
        format: Format,
        #[command(flatten)]
        args: ReportArgs,
    },
    /// Merge several profiles into one (go tool pprof -proto A B > out).
    Merge {
        /// Where to write the merged profile (.pb.gz).
        #[arg(short, long, value_name = "FILE")]
        output: String,
        /// Refuse profiles whose decompressed size exceeds this.
        #[arg(long = "max-size", value_name = "SIZE", default_value = "1G", value_parser = options::parse_size)]
        max_size: u64,
        /// Profiles to merge.
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<String>,
    },
    /// Fetch a profile from a URL into a file, e.g. for a script (curl -o FILE URL).
    Fetch {
        /// The URL: http://host:port/debug/pprof/heap, or host:port for a CPU profile.
        #[arg(value_name = "URL")]
        url: String,
        /// Where to write the profile as the server sent it.
        #[arg(short, long, value_name = "FILE")]
        output: String,
        /// Refuse answers larger than this (bytes; K, M, G suffixes accepted).
        #[arg(long = "max-size", value_name = "SIZE", default_value = "1G", value_parser = options::parse_size)]
        max_size: u64,
        #[command(flatten)]
        fetch: fetch::FetchArgs,
    },
    /// The change from a base profile: prints top, or writes the difference with -o (go tool pprof -base).
    Diff(ReportArgs),
    /// A flame graph as SVG; with --base, a differential one.
    Flame(ReportArgs),
    /// A sonde agent's profile store: `sonde store ls DIR` lists its kinds, time range and sizes.
    Store {
        #[command(subcommand)]
        cmd: StoreCmd,
    },
    /// The sites whose values grow steadily over a store's snapshots: leaks (heap), piling threads or tasks.
    ///
    /// Fits each site's in-use value over time (least squares) and lists the steady growers, most suspicious
    /// first: sonde growth --store ./profiles --kind heap --from -24h
    Growth(store::GrowthArgs),
    /// Interactive shell with the report commands (go tool pprof PROFILE).
    Shell(AnalysisArgs),
    /// The profile explorer in the browser: flame graph, top, source, peek, call graph, labels; with --base a differential view (go tool pprof -http=:8080 PROFILE).
    Web(web::WebArgs),
    /// The seed article's examples and case studies in Rust, each profiled by sonde and diagnosed from its profile: a tour of what sonde finds (--list, --case N, --quick).
    Demo(demo::DemoArgs),
    /// One case of `sonde demo`, in the process the demo starts for it.
    #[command(name = "__demo-case", hide = true)]
    DemoCase(demo::CaseArgs),
    /// Run `cargo bench` with a fixed code layout (functions aligned to 64 bytes), in a target directory of its own.
    ///
    /// Arguments are cargo's, then `--` and the harness's: `sonde bench --bench seed -- --benchmem`.
    /// With --layout-check, also builds with 16-byte alignment and compares the two runs: a benchmark
    /// that changes between them depends on where its code landed.
    Bench {
        /// Also run in a second code layout and report the benchmarks that move between the two.
        #[arg(long = "layout-check")]
        layout_check: bool,
        /// cargo bench's arguments, then -- and the benchmark harness's.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Compare benchmark results in Go's format, from sonde-bench or go test -bench (benchstat).
    Benchstat {
        /// Significance level for the Mann-Whitney U test.
        #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
        alpha: f64,
        /// Exit with status 1 if a significant slowdown (or throughput drop) exceeds PCT percent.
        #[arg(long = "fail-on-regression", value_name = "PCT")]
        fail_on_regression: Option<f64>,
        /// Changes smaller than PCT percent are reported as noise (~), as run-to-run drift.
        #[arg(long, value_name = "PCT", default_value_t = 2.0)]
        threshold: f64,
        /// Results files: the first is the base (e.g. old.txt new.txt, each from --count 10).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum StoreCmd {
    /// Kinds, time range and sizes of a store (-l: every profile).
    Ls(store::LsArgs),
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    #[command(flatten)]
    analysis: AnalysisArgs,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Folded stacks, one `root;...;leaf value` line per stack (inferno, FlameGraph, Pyroscope).
    Folded,
    /// Speedscope JSON (open it in the speedscope.app viewer).
    Speedscope,
    /// pprof protobuf, gzip-compressed.
    Pprof,
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `go tool pprof`'s command line as it is: `sonde -top -sample_index=alloc_space
    // heap.pb.gz`, and `sonde PROFILE` is `sonde shell PROFILE` (interactive).
    let utf8: Option<Vec<String>> = args[1..].iter().map(|a| a.to_str().map(String::from)).collect();
    if let Some(utf8) = utf8.filter(|a| {
        !matches!(
            a.first().map(String::as_str),
            Some("benchstat" | "bench" | "help" | "demo" | "__demo-case")
        )
    }) {
        match gocompat::translate(&utf8, &Cli::command_names()) {
            Ok(t) => {
                t.notes.iter().for_each(|n| eprintln!("sonde: note: {n}"));
                args.truncate(1);
                args.extend(t.args.into_iter().map(Into::into));
            }
            Err(e) => {
                eprintln!("sonde: error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let cli = Cli::parse_from(args);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("sonde: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Cli {
    /// The subcommands' names and aliases, from clap's own table.
    fn command_names() -> Vec<String> {
        let cmd = <Cli as clap::CommandFactory>::command();
        let mut names: Vec<String> = cmd
            .get_subcommands()
            .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
            .map(str::to_string)
            .collect();
        names.push("help".into());
        names
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Top(a) => text_report(&Command::Top, a),
        Cmd::List { regex, args } => text_report(&Command::List(regex), args),
        Cmd::Peek { regex, args } => text_report(&Command::Peek(regex), args),
        Cmd::Traces(a) => text_report(&Command::Traces, a),
        Cmd::Tree(a) => text_report(&Command::Tree, a),
        Cmd::Raw(a) => text_report(&Command::Raw, a),
        Cmd::Tags(a) => text_report(&Command::Tags, a),
        Cmd::Convert { format, args } => convert(format, args),
        Cmd::Merge {
            output,
            max_size,
            profiles,
        } => merge(&output, max_size, &profiles),
        Cmd::Fetch {
            url,
            output,
            max_size,
            fetch,
        } => fetch_to(&url, &output, max_size, &fetch),
        Cmd::Diff(a) => diff(a),
        Cmd::Flame(a) => flame(a),
        Cmd::Store { cmd: StoreCmd::Ls(a) } => {
            emit(&store::ls(&a)?, None)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Growth(a) => {
            emit(&store::growth(&a)?, None)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Shell(a) => shell::run(a),
        Cmd::Web(a) => web::run(a),
        Cmd::Demo(a) => demo::run(&a),
        Cmd::DemoCase(a) => demo::run_case(&a),
        Cmd::Bench { layout_check, args } => bench::run(layout_check, &args),
        Cmd::Benchstat {
            alpha,
            fail_on_regression,
            threshold,
            files,
        } => benchstat(alpha, fail_on_regression, threshold, &files),
    }
}

/// `sonde fetch URL -o FILE`: the bytes as the server sent them, once they
/// are known to be a profile.
fn fetch_to(url: &str, output: &str, max_size: u64, how: &fetch::FetchArgs) -> Result<ExitCode> {
    let data = fetch::fetch(url, how, max_size)?;
    let p =
        sonde_profile::Profile::parse(&data).with_context(|| format!("{url}: the server's answer is not a profile"))?;
    std::fs::write(output, &data).with_context(|| format!("cannot write {output}"))?;
    eprintln!("wrote {output} ({} bytes, {} stacks)", data.len(), p.samples.len());
    Ok(ExitCode::SUCCESS)
}

/// `sonde merge -o OUT PROFILE...`.
fn merge(output: &str, max_size: u64, profiles: &[String]) -> Result<ExitCode> {
    let loaded = profiles
        .iter()
        .map(|p| load::read_profile(p, max_size))
        .collect::<Result<Vec<_>>>()?;
    let merged = load::as_pprof_reads(sonde_profile::merge(loaded).context("merging")?)?;
    write_profile(&merged, output)?;
    eprintln!(
        "merged {} profiles into {output} ({} stacks)",
        profiles.len(),
        merged.samples.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sonde diff --base OLD NEW`: `top` of the change, or the change written with `-o`.
fn diff(a: ReportArgs) -> Result<ExitCode> {
    let store_base = a.analysis.store.base_from.is_some() || a.analysis.store.base_to.is_some();
    if a.analysis.base.is_empty() && a.analysis.diff_base.is_empty() && !store_base {
        bail!(
            "diff needs a base: sonde diff --base OLD.pb.gz NEW.pb.gz, or sonde diff --store DIR --kind heap --base-to -23h --from -1h"
        );
    }
    match &a.output {
        Some(out) => {
            let p = a.analysis.sources().load()?;
            write_profile(&p, out)?;
            eprintln!("wrote the difference to {out} ({} stacks)", p.samples.len());
            Ok(ExitCode::SUCCESS)
        }
        None => text_report(&Command::Top, a),
    }
}

/// `sonde flame`: an SVG flame graph; with a base, a differential one.
fn flame(a: ReportArgs) -> Result<ExitCode> {
    let out = a.output.clone().unwrap_or_else(|| "flame.svg".into());
    let cfg = a.analysis.config()?;
    let mut src = a.analysis.sources();
    if src.store.store.is_some() && src.base.is_empty() && src.diff_base.is_empty() {
        // A store's window, and its base window for a differential graph.
        let (p, base) = src.store.load(src.max_size)?;
        let base = base.map(load::as_pprof_reads).transpose()?;
        return write_flame_file(load::as_pprof_reads(p)?, base, &cfg, &out);
    }
    let base = if src.base.is_empty() && src.diff_base.is_empty() {
        None
    } else {
        let mut b = src.clone();
        b.sources = std::mem::take(&mut b.base);
        b.sources.extend(std::mem::take(&mut b.diff_base));
        src.base.clear();
        src.diff_base.clear();
        Some(b.load()?)
    };
    write_flame_file(src.load()?, base, &cfg, &out)
}

fn write_flame_file(
    p: sonde_profile::Profile,
    base: Option<sonde_profile::Profile>,
    cfg: &report::Config,
    out: &str,
) -> Result<ExitCode> {
    let title = p.main_binary().unwrap_or("sonde").to_string();
    let mut svg = Vec::new();
    let warnings = sonde_profile::report::write_flame(p, base, cfg, &title, &mut svg)?;
    print_warnings(&warnings);
    std::fs::write(out, svg).with_context(|| format!("cannot write {out}"))?;
    eprintln!("wrote {out}");
    Ok(ExitCode::SUCCESS)
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("sonde: {w}");
    }
}

fn text_report(cmd: &Command, a: ReportArgs) -> Result<ExitCode> {
    let cfg = a.analysis.config()?;
    let p = a.analysis.sources().load()?;
    let generated = with_env(|env| report::generate(p, cmd, &cfg, env))?;
    let Output::Text(text) = generated.output else {
        bail!("internal error: {cmd:?} did not produce text");
    };
    emit(&text, a.output.as_deref())?;
    // As go tool pprof: a source file that cannot be found is reported and the
    // listing shows what it can; only a regex matching nothing is an error.
    print_warnings(&generated.warnings);
    Ok(ExitCode::SUCCESS)
}

fn emit(text: &str, output: Option<&str>) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {path}")),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                // A closed pipe (`sonde top x | head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("writing to standard output"),
            }
        }
    }
}

fn write_profile(p: &sonde_profile::Profile, path: &str) -> Result<()> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        return p.write_to(&mut out).context("writing the profile to standard output");
    }
    p.write_file(path).with_context(|| format!("cannot write {path}"))
}

fn convert(to: Format, a: ReportArgs) -> Result<ExitCode> {
    let cfg = a.analysis.config()?;
    let p = a.analysis.sources().load()?;
    let cmd = match to {
        Format::Folded => Command::Folded,
        Format::Speedscope => Command::Speedscope,
        Format::Pprof => Command::Proto,
    };
    let generated = with_env(|env| report::generate(p, &cmd, &cfg, env))?;
    print_warnings(&generated.warnings);
    match generated.output {
        Output::Text(t) => emit(&t, a.output.as_deref())?,
        Output::Profile(p) => match a.output.as_deref() {
            Some(path) => write_profile(&p, path)?,
            None => bail!("converting to pprof needs -o FILE (or -o - for standard output)"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_alpha(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!(
            "{s:?}: want a significance level between 0 and 1, such as 0.05"
        )),
    }
}

/// `sonde benchstat OLD [NEW...]`.
fn benchstat(alpha: f64, fail_on_regression: Option<f64>, threshold: f64, files: &[String]) -> Result<ExitCode> {
    use sonde_bench::{benchfmt, benchstat};
    let mut parsed = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {f}"))?;
        if bytes.starts_with(&[0x1f, 0x8b]) || sonde_profile::Profile::parse(&bytes).is_ok() {
            bail!("{f} is a pprof profile, not benchmark results; analyse it with `sonde top {f}`");
        }
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{f} is not text; benchstat reads results in Go's benchmark format"))?;
        parsed.push((f.clone(), benchfmt::parse(&text)));
    }
    let opts = benchstat::Options {
        alpha,
        fail_on_regression,
        threshold,
        ..benchstat::Options::default()
    };
    let c = benchstat::compare(&parsed, &opts).map_err(anyhow::Error::msg)?;
    print!("{}", c.text);
    if !c.regressions.is_empty() {
        eprintln!(
            "regressions beyond {}%:\n  {}",
            fail_on_regression.unwrap_or_default(),
            c.regressions.join("\n  ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
