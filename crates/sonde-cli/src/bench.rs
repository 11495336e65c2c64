//! `sonde bench`: `cargo bench` with a fixed code layout, and a check of how
//! much each result depends on it.
//!
//! Where the linker places a function moves small benchmarks by 20% and more
//! (a loop that straddles a 32- or 64-byte boundary, branch aliasing), so an
//! unrelated change, or the order of functions in a file, can turn a result
//! around: in sonde's seed benchmarks `SliceWithPrealloc` once measured
//! 1.4–1.6 µs against `SliceWithoutPrealloc`'s 1.1–1.3 µs in a default build,
//! and 0.76–0.99 µs against 1.26–1.67 µs with functions aligned to 64 bytes
//! (the preallocated one does less work). `sonde bench` builds with every
//! function aligned to 64 bytes (`-C llvm-args=-align-all-functions=6`) in a
//! target directory of its own (so normal builds are not invalidated), and
//! runs `cargo bench` there. `--layout-check` also builds with 16-byte
//! alignment (LLVM's default on x86-64), runs the two builds in alternating
//! rounds (`--count N` rounds, default 5) and compares them with `sonde
//! benchstat`: a benchmark that changes between them depends on code layout,
//! and its figure says as much about where its code landed as about the code.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

/// The code layouts `sonde bench` builds with: a name and the flag.
const ALIGNED: (&str, &str) = ("functions aligned to 64 bytes", "-C llvm-args=-align-all-functions=6");
const CHECK: (&str, &str) = ("functions aligned to 16 bytes", "-C llvm-args=-align-all-functions=4");

/// Runs `cargo bench ARGS` in the fixed layout; with `layout_check`, also in
/// the other layout, and compares.
pub fn run(layout_check: bool, args: &[String]) -> Result<ExitCode> {
    let (cargo_args, mut harness_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let target = target_dir()?;
    if !layout_check {
        eprintln!(
            "sonde bench: {} (target directory {})",
            ALIGNED.0,
            target.join("aligned-64").display()
        );
        let status = cargo_bench(cargo_args, &harness_args, ALIGNED.1, &target.join("aligned-64"), false)?.0;
        return Ok(exit_code(status));
    }
    // Rounds of one run per layout, alternating, so that the machine's load
    // drifts over both alike (a run of all of one layout, then all of the
    // other, reports the drift as layout sensitivity).
    let rounds = take_count(&mut harness_args).unwrap_or(5);
    harness_args.extend(["--count".to_string(), "1".to_string()]);
    let layouts = [(ALIGNED, target.join("aligned-64")), (CHECK, target.join("aligned-16"))];
    for ((layout, flag), dir) in &layouts {
        eprintln!("sonde bench --layout-check: building with {layout}");
        let mut build = cargo_args.to_vec();
        build.push("--no-run".into());
        let status = cargo_bench(&build, &[], flag, dir, false)?.0;
        if !status.success() {
            return Ok(exit_code(status));
        }
    }
    let mut texts = vec![String::new(), String::new()];
    for round in 0..rounds {
        eprintln!("sonde bench --layout-check: round {}/{rounds}", round + 1);
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let ((_, flag), dir) = &layouts[i];
            let (status, text) = cargo_bench(cargo_args, &harness_args, flag, dir, true)?;
            if !status.success() {
                print!("{text}");
                return Ok(exit_code(status));
            }
            texts[i].push_str(&text);
        }
    }
    print!("{}", texts[0]);
    let runs: Vec<(String, sonde_bench::benchfmt::Results)> = layouts
        .iter()
        .zip(&texts)
        .map(|(((layout, _), _), text)| (layout.to_string(), sonde_bench::benchfmt::parse(text)))
        .collect();
    let c = sonde_bench::benchstat::compare(&runs, &sonde_bench::benchstat::Options::default())
        .map_err(anyhow::Error::msg)?;
    println!(
        "\nLayout check: the same benchmarks built with {} and with {}. A change below \
         is the code layout's, not your code's: such a benchmark's figure depends on where \
         its code landed (compare versions in one layout, with sonde bench, and keep the \
         difference in mind).\n",
        ALIGNED.0, CHECK.0
    );
    print!("{}", c.text);
    Ok(ExitCode::SUCCESS)
}

/// Removes `--count N` (or `--count=N`) from the harness's arguments and
/// returns N.
fn take_count(args: &mut Vec<String>) -> Option<u32> {
    let i = args.iter().position(|a| a == "--count" || a.starts_with("--count="))?;
    let value = match args[i].strip_prefix("--count=") {
        Some(v) => {
            let v = v.to_string();
            args.remove(i);
            v
        }
        None => {
            args.remove(i);
            if i < args.len() { args.remove(i) } else { String::new() }
        }
    };
    value.parse().ok().filter(|&n| n > 0)
}

/// `cargo bench CARGO_ARGS -- HARNESS_ARGS` with `flag` added to RUSTFLAGS,
/// built in `dir`. With `capture`, standard output is returned instead of
/// shown.
fn cargo_bench(
    cargo_args: &[String],
    harness_args: &[String],
    flag: &str,
    dir: &std::path::Path,
    capture: bool,
) -> Result<(std::process::ExitStatus, String)> {
    let rustflags = match std::env::var("RUSTFLAGS") {
        Ok(f) if !f.trim().is_empty() => format!("{f} {flag}"),
        _ => flag.to_string(),
    };
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.arg("bench")
        .args(cargo_args)
        .arg("--")
        .args(harness_args)
        .env("RUSTFLAGS", rustflags)
        .env("CARGO_TARGET_DIR", dir);
    if capture {
        cmd.stdout(Stdio::piped());
    }
    let out = cmd
        .spawn()
        .context("starting cargo (is it on PATH?)")?
        .wait_with_output()
        .context("waiting for cargo bench")?;
    Ok((out.status, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Where `sonde bench` builds: `sonde-bench/` under the workspace's target
/// directory (`CARGO_TARGET_DIR` if set).
fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir).join("sonde-bench"));
    }
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .context("running cargo locate-project (is cargo on PATH?)")?;
    if !out.status.success() {
        bail!(
            "sonde bench runs in a Cargo project: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let root = manifest.parent().context("the workspace manifest has no directory")?;
    Ok(root.join("target").join("sonde-bench"))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    ExitCode::from(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

#[cfg(test)]
mod tests {
    use super::take_count;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn count_is_taken_out_of_the_harness_arguments() {
        let mut a = args("--bench Slice --count 7 --benchmem");
        assert_eq!(take_count(&mut a), Some(7));
        assert_eq!(a, args("--bench Slice --benchmem"));
        let mut a = args("--count=3");
        assert_eq!(take_count(&mut a), Some(3));
        assert!(a.is_empty());
        let mut a = args("--benchmem");
        assert_eq!(take_count(&mut a), None);
        let mut a = args("--count 0");
        assert_eq!(take_count(&mut a), None, "not a round count");
    }
}
