//! Reading profiles from disk or URLs and combining sources with bases, as `go
//! tool pprof` does before any report: several sources are merged; bases are
//! subtracted (`--base`) or kept for comparison (`--diff-base`).

use std::path::Path;

use anyhow::{Context, Result, bail};
use sonde_profile::{Profile, ReadOptions, merge};

use crate::fetch::{self, FetchArgs};
use crate::store::StoreArgs;

/// Where the profiles come from and how to combine them.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// Profiles to analyse; merged when there are several.
    pub sources: Vec<String>,
    /// Profiles to subtract (`-base`).
    pub base: Vec<String>,
    /// Profiles to compare against (`-diff_base`).
    pub diff_base: Vec<String>,
    /// Scale the sources so their total matches the base's.
    pub normalize: bool,
    /// Bound on a profile's decompressed size.
    pub max_size: u64,
    /// How sources that are URLs are fetched.
    pub fetch: FetchArgs,
    /// A window of a store instead of sources (and a base window instead of bases).
    pub store: StoreArgs,
}

/// Reads one profile file.
pub fn read_profile(path: &str, max_size: u64) -> Result<Profile> {
    read_source(path, max_size, &FetchArgs::default())
}

/// Reads one profile, from a file or a URL (fetched, then saved as pprof
/// saves what it fetches, and the copy's path printed).
pub fn read_source(path: &str, max_size: u64, how: &FetchArgs) -> Result<Profile> {
    if fetch::is_url(path) {
        let data = fetch::fetch(path, how, max_size)?;
        let mut p = Profile::parse_with(&data, &ReadOptions { max_size })
            .with_context(|| format!("{path}: the server's answer is not a profile"))?;
        fetch::symbolize_remote(&mut p, path, how)?;
        match fetch::save(&p, how.save_dir.as_deref()) {
            Ok(saved) => eprintln!("Saved profile in {}", saved.display()),
            Err(e) => eprintln!("sonde: could not save the fetched profile: {e:#}"),
        }
        return Ok(with_mapping(p));
    }
    let data = std::fs::read(Path::new(path)).with_context(|| format!("cannot read {path}"))?;
    if is_executable(&data) {
        bail!(
            "{path} is a program, not a profile; pass the profile file (sonde reads the symbols \
             that sonde and Go write into the profile, so no binary is needed)"
        );
    }
    let p = Profile::parse_with(&data, &ReadOptions { max_size }).with_context(|| path.to_string())?;
    Ok(with_mapping(p))
}

/// As pprof does: one anonymous mapping when there is none, so that every
/// location has one.
fn with_mapping(mut p: Profile) -> Profile {
    if p.mappings.is_empty() && !p.locations.is_empty() {
        p.mappings.push(Default::default());
        for l in &mut p.locations {
            l.mapping = Some(0);
        }
    }
    p
}

/// An ELF, Mach-O or PE executable rather than a profile.
fn is_executable(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
        || data.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || data.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
        || data.starts_with(b"MZ")
}

fn starts_with_executable(path: &str) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| is_executable(&head))
}

/// What `go tool pprof` does to the merged sources (and bases) before any
/// report, in its order (`fetchProfiles`): function names demangled and
/// simplified (its symbolizer's `Demangle`), then the profile's own
/// `drop_frames`/`keep_frames` applied (`RemoveUninteresting`), which removes
/// frames but keeps samples apart and every location in the tables.
pub fn as_pprof_reads(mut p: Profile) -> Result<Profile> {
    p.simplify_names();
    p.remove_uninteresting().context("applying the profile's drop_frames")?;
    Ok(p)
}

fn read_all(paths: &[String], max_size: u64, how: &FetchArgs, what: &str) -> Result<Profile> {
    let profiles = paths
        .iter()
        .map(|p| read_source(p, max_size, how))
        .collect::<Result<Vec<_>>>()?;
    // Like pprof, even a single profile goes through merge: identical stacks are
    // combined and samples without value dropped, so traces and totals agree.
    merge(profiles).with_context(|| format!("merging the {what} profiles"))
}

impl Sources {
    /// Loads and combines the profiles.
    pub fn load(&self) -> Result<Profile> {
        let (p, base) = if self.store.store.is_some() {
            self.load_store()?
        } else {
            self.load_files()?
        };
        let Some((base, diff)) = base else {
            return as_pprof_reads(p);
        };
        let mut p = p;
        if self.normalize {
            normalize(&mut p, &base)?;
        }
        let combined = if diff { p.diff_against(base) } else { p.subtract(base) };
        as_pprof_reads(combined.context("combining the profile with its base")?)
    }

    /// A store's window, and its base window (subtracted) or base files.
    fn load_store(&self) -> Result<(Profile, Option<(Profile, bool)>)> {
        if !self.sources.is_empty() {
            bail!("give either profiles ({}) or --store, not both", self.sources.join(" "));
        }
        let (p, base_window) = self.store.load(self.max_size)?;
        let files = self.load_bases()?;
        match (base_window, files) {
            (Some(_), Some(_)) => {
                bail!("--base-from/--base-to and --base/--diff-base cannot be used together; pick one")
            }
            (Some(b), None) => Ok((p, Some((b, false)))),
            (None, files) => Ok((p, files)),
        }
    }

    /// The sources and their bases, from files or URLs.
    fn load_files(&self) -> Result<(Profile, Option<(Profile, bool)>)> {
        if self.sources.is_empty() {
            bail!("no profile given; pass the path of a .pb.gz file or a URL");
        }
        let mut sources = self.sources.as_slice();
        if sources.len() > 1 && !fetch::is_url(&sources[0]) && starts_with_executable(&sources[0]) {
            // `go tool pprof ./myapp cpu.pb.gz`: the binary is for pprof's own
            // symbolization, which sonde does not need.
            eprintln!(
                "sonde: note: ignoring {}: a program, not a profile (sonde symbolizes from the profile itself)",
                sources[0]
            );
            sources = &sources[1..];
        }
        let p = read_all(sources, self.max_size, &self.fetch, "source")?;
        Ok((p, self.load_bases()?))
    }

    /// The `--base` (subtracted, `false`) or `--diff-base` (`true`) profiles, if any.
    fn load_bases(&self) -> Result<Option<(Profile, bool)>> {
        let (bases, diff) = match (self.base.is_empty(), self.diff_base.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => (&self.base, false),
            (true, false) => (&self.diff_base, true),
            (false, false) => bail!("--base and --diff-base cannot be used together; pick one"),
        };
        Ok(Some((read_all(bases, self.max_size, &self.fetch, "base")?, diff)))
    }
}

/// Scales `p` so that the total of each value type equals `base`'s (pprof's `-normalize`).
fn normalize(p: &mut Profile, base: &Profile) -> Result<()> {
    if p.sample_types != base.sample_types {
        bail!("--normalize needs profiles with the same sample types");
    }
    let n = p.sample_types.len();
    let sum = |q: &Profile| {
        let mut t = vec![0i64; n];
        for s in &q.samples {
            for (a, v) in t.iter_mut().zip(&s.values) {
                *a += v;
            }
        }
        t
    };
    let (b, s) = (sum(base), sum(p));
    let ratios: Vec<f64> = (0..n)
        .map(|i| if s[i] == 0 { 0.0 } else { b[i] as f64 / s[i] as f64 })
        .collect();
    p.scale_each(&ratios);
    Ok(())
}
