//! `--cpuprofile` and `--memprofile`: sonde's CPU and heap profilers around the
//! benchmarks (feature `profiles`), keeping only the samples taken inside the
//! benchmark bodies, not the harness.

use crate::flags::Options;

/// The profiles being taken.
pub(crate) struct Profiles {
    #[cfg(feature = "profiles")]
    cpu: Option<(sonde::cpu::CpuProfiler, std::path::PathBuf)>,
    #[cfg(feature = "profiles")]
    mem: Option<std::path::PathBuf>,
}

/// Profiles keep the samples under this frame (the driver's `benchmark_body`).
#[cfg(feature = "profiles")]
const BODY_FRAME: &str = "sonde_bench::driver::benchmark_body";

#[cfg(feature = "profiles")]
impl Profiles {
    /// Creates the files (so that a bad path fails before the run) and starts
    /// the profilers.
    pub(crate) fn start(opts: &Options) -> Result<Profiles, String> {
        for path in [&opts.cpuprofile, &opts.memprofile].into_iter().flatten() {
            std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        // Counters only (sampling costs a little on every allocation), unless an
        // allocation profile is wanted (at Go's default rate).
        sonde::heap::set_sample_rate(match opts.memprofile {
            Some(_) => sonde::heap::DEFAULT_RATE,
            None => 0,
        });
        let cpu = match &opts.cpuprofile {
            Some(path) => Some((
                sonde::cpu::start(sonde::cpu::CpuOptions::default()).map_err(|e| format!("--cpuprofile: {e}"))?,
                path.clone(),
            )),
            None => None,
        };
        Ok(Profiles {
            cpu,
            mem: opts.memprofile.clone(),
        })
    }

    /// Stops the profilers and writes the files; returns what to tell the
    /// user (each file written, by its absolute path) and what went wrong.
    pub(crate) fn finish(self) -> (Vec<String>, Vec<String>) {
        let mut results = Vec::new();
        if let Some((p, path)) = self.cpu {
            let r = p.stop().map_err(|e| format!("--cpuprofile: {e}"));
            results.push((
                "--cpuprofile",
                r.and_then(|profile| write_profile(profile, &path)),
                path,
            ));
        }
        if let Some(path) = self.mem {
            results.push((
                "--memprofile",
                write_profile(sonde::heap::allocs_profile(), &path),
                path,
            ));
        }
        let (mut written, mut problems) = (Vec::new(), Vec::new());
        for (flag, r, path) in results {
            match r {
                Ok(()) => written.push(format!("{flag}: wrote {}", path.display())),
                Err(e) => problems.push(e),
            }
        }
        (written, problems)
    }
}

#[cfg(not(feature = "profiles"))]
impl Profiles {
    /// Without the `profiles` feature, asking for a profile is an error.
    pub(crate) fn start(opts: &Options) -> Result<Profiles, String> {
        for (flag, set) in [
            ("--cpuprofile", opts.cpuprofile.is_some()),
            ("--memprofile", opts.memprofile.is_some()),
        ] {
            if set {
                return Err(format!(
                    "{flag} needs sonde-bench's `profiles` feature: depend on \
                     sonde-bench = {{ version = \"0.1\", features = [\"profiles\"] }} \
                     (or run cargo bench with --features sonde-bench/profiles)"
                ));
            }
        }
        // Counters only, also when another crate of the build turned sonde's
        // profilers on (Cargo unifies features): sampling during benchmarks
        // would cost about a microsecond per 512 KiB allocated.
        sonde::heap::set_sample_rate(0);
        Ok(Profiles {})
    }

    /// Nothing to write.
    pub(crate) fn finish(self) -> (Vec<String>, Vec<String>) {
        (Vec::new(), Vec::new())
    }
}

#[cfg(feature = "profiles")]
/// Keeps the samples under the benchmark bodies, each stack from the body
/// down (the harness's frames above it, which differ from call to call by
/// the stack shift, dropped), and writes the profile.
fn write_profile(mut p: sonde::Profile, path: &std::path::Path) -> std::result::Result<(), String> {
    let body = regex::Regex::new(&regex::escape(BODY_FRAME)).expect("a valid pattern");
    p.filter_by_name(Some(&body), None, None, None);
    p.show_from(&body);
    p.compact()
        .write_file(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
