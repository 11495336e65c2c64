//! `sonde demo`: every example, exercise and case study of the seed article
//! (Go's profiling guide), rewritten in Rust, profiled by sonde's own
//! instruments and diagnosed from the profiles they wrote.
//!
//! Each case is a module of `cases/` with its workload, the instrument that
//! profiles it and the check that reads the profile back (with
//! `sonde_profile::report`, the code `sonde top` prints from), so a broken
//! profiler fails the demo. The parent process (`sonde demo`) runs each case
//! in a child process of this binary (`sonde __demo-case NAME`) whose
//! allocator samples the heap (see `crate::alloc`): each case's profiles hold
//! only its own work, and the analyzer's own processes keep the system
//! allocator.
//!
//! The map of the module: this file (the command, the case table, the child's
//! side), `outcome.rs` (what a case reports, and how it is printed),
//! `analyze.rs` (reading the profiles back), `cases/` (one file per case).

mod analyze;
mod cases;
mod outcome;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

pub use outcome::Outcome;

/// What one case needs to run.
pub struct Ctx {
    /// The case's own directory for the files it writes (`sonde-demo/cpu/`).
    pub dir: PathBuf,
    /// The store every case that keeps snapshots writes into (`sonde-demo/store`).
    pub store: PathBuf,
    /// The shorter version (`--quick`): same checks, smaller workloads.
    pub quick: bool,
}

impl Ctx {
    /// `quick` or `full`, by the mode.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }

    /// A path under the case's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// One case of the demo.
pub struct Case {
    /// Its short name (`--case cpu`).
    pub name: &'static str,
    /// What it shows, with where the seed has it.
    pub title: &'static str,
    /// The Go commands the seed uses for it.
    pub go: &'static str,
    /// Runs the workload, profiles it and checks the profile, recording into
    /// the outcome as it goes (kept when it then fails).
    pub run: fn(&Ctx, &mut Outcome) -> Result<()>,
}

/// `sonde demo`'s arguments.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Run one case, by number or name (see --list); repeatable.
    #[arg(long = "case", value_name = "N|NAME")]
    pub cases: Vec<String>,
    /// List the cases and exit.
    #[arg(long)]
    pub list: bool,
    /// The shorter version (under 30 s in all): the same checks on smaller workloads.
    #[arg(long)]
    pub quick: bool,
    /// Where profiles, flame graphs and the store go.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
}

/// Where the demo writes without `--out`.
const DEFAULT_OUT: &str = "sonde-demo";

/// The hidden `sonde __demo-case` command: one case, in its own process.
#[derive(Args, Debug)]
pub struct CaseArgs {
    /// The case's name.
    pub name: String,
    /// The demo's output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// The shorter version.
    #[arg(long)]
    pub quick: bool,
}

/// Parses `args` (the first is the command's name) as the flags of a sonde
/// command, with clap's table, defaults and checks: the demo runs a command's
/// own code with what a user would type.
pub fn parse_args<T: Args>(args: &[&str]) -> Result<T> {
    #[derive(clap::Parser)]
    struct Wrap<T: Args> {
        #[command(flatten)]
        inner: T,
    }
    Ok(<Wrap<T> as clap::Parser>::try_parse_from(args)?.inner)
}

/// Writes the demo's report to standard output; a reader that went away (`sonde
/// demo | head`) ends the demo quietly, as it ends `sonde top`.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("sonde: error: writing the demo's report: {e}");
        std::process::exit(1);
    }
}

/// [`emit`] with `format!`'s arguments and a newline.
macro_rules! emitln {
    ($($arg:tt)*) => {
        emit(&format!("{}\n", format!($($arg)*)))
    };
}

/// The line before a case's result on its process's standard output.
const RESULT_MARK: &str = "sonde-demo-result: ";

/// The environment variable that gives a case's process the demo's pid.
const PARENT_ENV: &str = "SONDE_DEMO_PARENT";

/// How long a case may run before the demo stops it.
const CASE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often a case that runs long says so off a terminal.
const STILL_RUNNING_EVERY: Duration = Duration::from_secs(60);

/// `sonde demo`.
pub fn run(a: &DemoArgs) -> Result<std::process::ExitCode> {
    let all = cases::ALL;
    if a.list {
        for (i, c) in all.iter().enumerate() {
            emitln!("{:>2}  {:<11} {}", i + 1, c.name, c.title);
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let chosen = select(all, &a.cases)?;
    let _lock = claim_out_dir(&a.out)?;
    let exe = std::env::current_exe().context("finding this program to run the cases")?;
    emitln!(
        "sonde demo: {} case{} of the seed article (Go's profiling guide) in Rust, each profiled by sonde and \
         diagnosed from the profile it wrote{}. Files go to {}/.\n",
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" },
        if a.quick { " (quick version)" } else { "" },
        a.out.display()
    );
    let started = Instant::now();
    let mut failed = Vec::new();
    for (i, c) in chosen.iter().enumerate() {
        let number = all.iter().position(|x| x.name == c.name).map_or(0, |p| p + 1);
        let progress = Progress::start(&format!("[{}/{}] {}", i + 1, chosen.len(), c.title));
        let t = Instant::now();
        let outcome = run_child(&exe, c, &a.out, a.quick);
        progress.finish();
        let outcome = outcome.unwrap_or_else(|e| Outcome::failed(format!("{e:#}")));
        if !outcome.passed() {
            failed.push(c.name);
        }
        emit(&outcome.render(number, c, t.elapsed()));
    }
    let store = a.out.join("store");
    emitln!(
        "{} of {} cases passed in {:.1} s.",
        chosen.len() - failed.len(),
        chosen.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        let mut again = format!("sonde demo --case {}", failed.join(" --case "));
        if a.quick {
            again.push_str(" --quick");
        }
        if a.out != Path::new(DEFAULT_OUT) {
            again.push_str(&format!(" --out {}", analyze::sh(&a.out)));
        }
        emitln!(
            "FAILED: {}. A failed check that measures this machine (benchmarks, contention, speedups, pages per \
             second) may be other work keeping every core busy; an error names its cause (a file that could not \
             be written, a port) in its line above. `{again}` runs it again; what it wrote is under {}.",
            failed.join(", "),
            analyze::sh(&a.out)
        );
    }
    if !on_path("sonde") {
        emitln!(
            "\n`sonde` is not on your PATH; this one is {}. Put its directory on PATH, or write its path where the \
             commands above say `sonde` (in the repository: `cargo run --release --`; `cargo install --locked --path \
             crates/sonde-cli` installs it, a second after `cargo run --release`).",
            analyze::sh(&exe)
        );
    }
    if let Some(kinds) = store_kinds(&store) {
        emitln!(
            "\nBrowse what the cases stored, one kind at a time ({}):\n  sonde web --store {} --kind {}",
            kinds.join(", "),
            analyze::sh(&store),
            if kinds.iter().any(|k| k == "cpu") {
                "cpu"
            } else {
                &kinds[0]
            }
        );
    }
    Ok(if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// Whether an executable file `name` is in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The file that marks a directory as the demo's: only such a directory has
/// its case directories cleared before a run.
const MARKER: &str = ".sonde-demo";

/// Creates the output directory, or checks that an existing one is the
/// demo's (empty, or marked), and marks it.
fn claim_out_dir(out: &Path) -> Result<std::fs::File> {
    if out.exists() && !out.is_dir() {
        bail!(
            "{} is not a directory; give --out a directory (it is created if missing)",
            out.display()
        );
    }
    if out.exists() && !out.join(MARKER).exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} already holds files that sonde demo did not write, and the demo clears its case \
                 directories there; choose another directory with --out (or remove it)",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let marker = out.join(MARKER);
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&marker)
        .with_context(|| format!("writing in {}", out.display()))?;
    // One demo at a time in a directory: two would clear each other's files.
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "another sonde demo is running in {}; wait for it, or give this one its own --out DIR",
            out.display()
        );
    }
    std::io::Write::write_all(
        &mut lock,
        b"written by sonde demo: its case directories are cleared at each run\n",
    )
    .with_context(|| format!("writing {}", marker.display()))?;
    Ok(lock)
}

/// The kinds a store holds, if it has any profile.
fn store_kinds(dir: &Path) -> Option<Vec<String>> {
    let entries = sonde_profile::store::list(dir).ok()?;
    let mut kinds: Vec<String> = entries.iter().map(|e| e.kind.clone()).collect();
    kinds.sort();
    kinds.dedup();
    (!kinds.is_empty()).then_some(kinds)
}

/// The cases `--case` names (all without it), in the table's order.
fn select(all: &'static [Case], wanted: &[String]) -> Result<Vec<&'static Case>> {
    if wanted.is_empty() {
        return Ok(all.iter().collect());
    }
    let mut chosen = Vec::new();
    for w in wanted {
        let c = match w.parse::<usize>() {
            Ok(n) if (1..=all.len()).contains(&n) => &all[n - 1],
            _ => all.iter().find(|c| c.name == w.as_str()).ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|c| c.name).collect();
                anyhow::anyhow!(
                    "no demo case {w:?}: give a number from 1 to {} or a name ({}); sonde demo --list lists them",
                    all.len(),
                    names.join(", ")
                )
            })?,
        };
        if !chosen.iter().any(|x: &&Case| x.name == c.name) {
            chosen.push(c);
        }
    }
    chosen.sort_by_key(|c| all.iter().position(|x| x.name == c.name));
    Ok(chosen)
}

/// Runs one case in a child process and reads its outcome.
fn run_child(exe: &Path, c: &Case, out: &Path, quick: bool) -> Result<Outcome> {
    let mut cmd = Command::new(exe);
    cmd.arg("__demo-case").arg(c.name).arg("--out").arg(out);
    if quick {
        cmd.arg("--quick");
    }
    let mut child = cmd
        .env(crate::alloc::DEMO_CASE_ENV, c.name)
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} __demo-case {}", exe.display(), c.name))?;
    // Both pipes drained on threads of their own, so that neither can fill up.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    // Off a terminal (no spinner), a case that runs long says so now and then.
    let quiet = !std::io::stderr().is_terminal();
    let mut next_note = STILL_RUNNING_EVERY;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if quiet && started.elapsed() >= next_note {
            eprintln!(
                "sonde demo: case {} still running after {} s (pid {}; it is stopped if it runs {} s)",
                c.name,
                next_note.as_secs(),
                child.id(),
                CASE_TIMEOUT.as_secs()
            );
            next_note += STILL_RUNNING_EVERY;
        }
        if started.elapsed() > CASE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let tail = || last_lines(&stderr, 15).join("\n");
    let Some(status) = status else {
        bail!(
            "the case ran longer than {} s and was stopped\n{}",
            CASE_TIMEOUT.as_secs(),
            tail()
        );
    };
    match stdout.lines().rev().find_map(|l| l.strip_prefix(RESULT_MARK)) {
        Some(json) => Outcome::from_json(json),
        None => bail!(
            "the case's process ended ({status}) without a result{}",
            match tail() {
                t if t.trim().is_empty() => " (it printed nothing on its standard error)".to_string(),
                t => format!(":\n{t}"),
            }
        ),
    }
}

/// The last `n` lines of `text`.
pub(crate) fn last_lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// `sonde __demo-case NAME`: runs the case in this process and prints its outcome.
pub fn run_case(a: &CaseArgs) -> Result<std::process::ExitCode> {
    if std::env::var_os(crate::alloc::DEMO_CASE_ENV).is_none() {
        bail!("__demo-case is sonde demo's own: run `sonde demo --case {}`", a.name);
    }
    // The case ends with the demo, even if the demo is killed (not only
    // when its terminal's Ctrl-C reaches both).
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number; no memory is involved.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // A demo that died before the line above: no signal will come.
    let parent = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse::<i32>().ok());
    // SAFETY: getppid has no preconditions.
    if parent.is_some_and(|p| p != unsafe { libc::getppid() }) {
        bail!("the sonde demo that started this case has ended");
    }
    let c = cases::ALL
        .iter()
        .find(|c| c.name == a.name)
        .ok_or_else(|| anyhow::anyhow!("no demo case {:?}", a.name))?;
    let dir = a.out.join(c.name);
    if !a.out.join(MARKER).exists() {
        bail!(
            "{} is not sonde demo's output directory (no {MARKER} in it)",
            a.out.display()
        );
    }
    // A previous run's files would be read as this run's.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ctx = Ctx {
        dir,
        store: a.out.join("store"),
        quick: a.quick,
    };
    // What the case gathered before an error or a panic is reported with it.
    let mut outcome = Outcome::default();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (c.run)(&ctx, &mut outcome))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            outcome.check(false, format!("{e:#}"));
        }
        Err(p) => {
            outcome.check(
                false,
                format!(
                    "the case panicked: {}",
                    p.downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_default()
                ),
            );
        }
    }
    println!("{RESULT_MARK}{}", outcome.to_json());
    Ok(std::process::ExitCode::SUCCESS)
}

/// The progress line of a running case, on a terminal only.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn start(message: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(format!("{message} …"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    fn finish(self) {
        if let Some(b) = self.0 {
            b.finish_and_clear();
        }
    }
}
