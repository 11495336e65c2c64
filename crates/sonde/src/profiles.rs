//! The registry of profile kinds: a kind's name to how to take it, as Go's
//! `runtime/pprof.Lookup(name)` and `pprof.Profiles()`, which `net/http/pprof`'s
//! index simply iterates.
//!
//! ```no_run
//! use std::time::Duration;
//! use sonde::profiles::{self, Params};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! for kind in profiles::kinds() {
//!     println!("{:>6} {}: {}", kind.count().map_or("-".into(), |n| n.to_string()), kind.name(), kind.description());
//! }
//! // Go: pprof.Lookup("heap").WriteTo(f, 0)
//! profiles::take("heap", &Params::default())?.write_file("heap.pb.gz")?;
//! // Go: /debug/pprof/profile?seconds=30
//! let cpu = profiles::take("profile", &Params::default().with_seconds(Duration::from_secs(30)))?;
//! # Ok(())
//! # }
//! ```
//!
//! Sinks (the `/debug/pprof` endpoints, the continuous agent) know profiles only
//! through this module, never through a collector's own API. A collector makes
//! its kinds available by adding one row to this module's `KINDS` table (with
//! `#[cfg(feature = ...)]` on the row when the collector is behind a feature);
//! nothing else lists kinds.

use std::time::Duration;

use sonde_profile::Profile;

use crate::{Error, cpu, heap, sync, threads};

/// One kind of profile this build can take (Go's `*pprof.Profile`).
#[derive(Debug)]
pub struct Kind {
    name: &'static str,
    description: &'static str,
    cumulative: bool,
    count: Option<fn() -> usize>,
    take: fn(&Params) -> Result<Profile, Error>,
}

impl Kind {
    /// The kind's name, as URLs and files use it: `heap`, `allocs`, `profile`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One sentence saying what the profile holds, as `/debug/pprof/`'s index
    /// shows it.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// How many records a profile taken now would hold (Go's index count: for
    /// `heap` and `allocs`, the allocation sites and sizes recorded); `None` for
    /// kinds that record nothing until they are taken (`profile`, the CPU).
    pub fn count(&self) -> Option<usize> {
        self.count.map(|count| count())
    }

    /// Whether the profile adds up everything since the program started
    /// (`allocs`), rather than showing a moment (`heap`'s memory in use) or a
    /// collection period (`profile`). A cumulative profile tells what happened
    /// between two moments only as the difference of two profiles
    /// (`sonde top --base`).
    pub fn cumulative(&self) -> bool {
        self.cumulative
    }

    /// Takes a profile of this kind. Fails when a parameter the kind needs is
    /// missing or one it does not take is given ([`Error::Parameter`]), and as
    /// the collector fails: a CPU profile while another runs is
    /// [`Error::AlreadyRunning`].
    pub fn take(&self, params: &Params) -> Result<Profile, Error> {
        (self.take)(params)
    }
}

/// What a kind accepts when it is taken (Go: `/debug/pprof/NAME`'s query
/// parameters). Build with [`Params::default`] and the `with_` methods.
///
/// Go's `debug=N` (the text forms of a profile) is not here: every kind is
/// taken as a pprof [`Profile`] until the text views arrive, with the thread
/// profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Params {
    /// How long to collect (Go: `seconds=N`). Required by `profile`, the CPU
    /// profile; refused by `heap` and `allocs`, which are taken at once (Go's
    /// delta heap profiles over `seconds` are not supported).
    pub seconds: Option<Duration>,
}

impl Params {
    /// The same parameters, collecting for `duration`.
    pub fn with_seconds(mut self, duration: Duration) -> Params {
        self.seconds = Some(duration);
        self
    }
}

/// Every kind of this build, in no particular order ([`kinds`] sorts them): one
/// row per kind.
static KINDS: &[Kind] = &[
    Kind {
        name: "allocs",
        description: "A sampling of all past memory allocations",
        cumulative: true,
        count: Some(heap::record_count),
        take: |p| at_once("allocs", p).map(|()| heap::allocs_profile()),
    },
    Kind {
        name: "block",
        description: "Stack traces that led to blocking on synchronization primitives",
        cumulative: true,
        count: Some(sync::block_count),
        take: |p| at_once("block", p).map(|()| sync::block_profile()),
    },
    Kind {
        name: "goroutine",
        description: "Stack traces of all current threads (Go: goroutines)",
        cumulative: false,
        count: Some(threads::count),
        take: |p| at_once("goroutine", p).and_then(|()| threads::profile()),
    },
    Kind {
        name: "heap",
        description: "A sampling of memory allocations of live objects",
        cumulative: false,
        count: Some(heap::record_count),
        take: |p| at_once("heap", p).map(|()| heap::profile()),
    },
    Kind {
        name: "mutex",
        description: "Stack traces of holders of contended mutexes",
        cumulative: true,
        count: Some(sync::mutex_count),
        take: |p| at_once("mutex", p).map(|()| sync::mutex_profile()),
    },
    #[cfg(feature = "tokio")]
    Kind {
        name: "tasks",
        description: "Live async tasks (tokio) spawned through sonde::tasks, by spawn site",
        cumulative: false,
        count: Some(crate::tasks::count),
        take: |p| at_once("tasks", p).map(|()| crate::tasks::profile()),
    },
    Kind {
        name: "profile",
        description: "CPU profile. You can specify the duration in the seconds parameter. After you get the \
                      profile file, use the sonde top command (or go tool pprof) to investigate the profile.",
        cumulative: false,
        count: None,
        take: take_cpu,
    },
];

/// The kind named `name` (Go's `pprof.Lookup`), if this build has it.
pub fn lookup(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Every kind this build has, sorted by name (Go's `pprof.Profiles`).
pub fn kinds() -> impl Iterator<Item = &'static Kind> {
    let mut all: Vec<&'static Kind> = KINDS.iter().collect();
    all.sort_by_key(|k| k.name);
    all.into_iter()
}

/// Takes a profile of the kind named `name`: [`lookup`] and [`Kind::take`] in
/// one, with [`Error::UnknownKind`] (naming the kinds there are) when this
/// build has no such kind.
pub fn take(name: &str, params: &Params) -> Result<Profile, Error> {
    match lookup(name) {
        Some(kind) => kind.take(params),
        None => Err(Error::UnknownKind {
            name: name.to_string(),
            known: kinds().map(Kind::name).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Checks that a kind taken at once was given no duration.
fn at_once(kind: &'static str, params: &Params) -> Result<(), Error> {
    match params.seconds {
        Some(_) => Err(Error::Parameter {
            kind,
            problem: "is taken at once and takes no duration (seconds); delta profiles are not supported",
        }),
        None => Ok(()),
    }
}

fn take_cpu(params: &Params) -> Result<Profile, Error> {
    match params.seconds {
        Some(d) if !d.is_zero() => cpu::profile_for(d, cpu::CpuOptions::default()),
        _ => Err(Error::Parameter {
            kind: "profile",
            problem: "needs a duration above zero (seconds), how long to profile the CPU",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_sorted_and_found_by_name() {
        let names: Vec<&str> = kinds().map(Kind::name).collect();
        let mut want = vec!["allocs", "block", "goroutine", "heap", "mutex", "profile"];
        if cfg!(feature = "tokio") {
            want.push("tasks");
        }
        assert_eq!(names, want);
        for k in kinds() {
            assert!(std::ptr::eq(lookup(k.name()).expect("found"), k));
            assert!(!k.description().is_empty());
        }
        assert!(lookup("threadcreate").is_none());
        assert!(lookup("Heap").is_none(), "names are exact");
    }

    #[test]
    fn cumulative_and_counted_kinds() {
        let k = |n| lookup(n).expect("kind");
        assert!(k("allocs").cumulative());
        assert!(!k("heap").cumulative());
        assert!(!k("profile").cumulative());
        assert!(
            k("block").cumulative() && k("mutex").cumulative(),
            "as Go's, since the start"
        );
        assert!(k("block").count().is_some() && k("mutex").count().is_some());
        assert!(k("heap").count().is_some());
        assert_eq!(k("heap").count(), k("allocs").count(), "one record for both views");
        assert_eq!(k("profile").count(), None);
    }

    #[test]
    fn unknown_kinds_are_errors_naming_the_known_ones() {
        let e = take("threadcreate", &Params::default()).expect_err("unknown");
        assert!(matches!(&e, Error::UnknownKind { name, .. } if name == "threadcreate"));
        assert!(
            e.to_string().starts_with(
                "no profile kind named \"threadcreate\"; this build has: allocs, block, goroutine, heap, mutex, profile"
            ),
            "{e}"
        );
    }

    #[test]
    fn parameters_are_checked() {
        let e = take("profile", &Params::default()).expect_err("no duration");
        assert!(matches!(e, Error::Parameter { kind: "profile", .. }), "{e}");
        assert!(e.to_string().contains("seconds"), "{e}");
        let zero = Params::default().with_seconds(Duration::ZERO);
        assert!(matches!(
            take("profile", &zero),
            Err(Error::Parameter { kind: "profile", .. })
        ));
        let timed = Params::default().with_seconds(Duration::from_secs(1));
        for name in ["heap", "allocs"] {
            let e = take(name, &timed).expect_err("a duration");
            assert!(matches!(e, Error::Parameter { kind, .. } if kind == name), "{e}");
        }
    }
}
