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

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sonde_profile::{Profile, legacy};

use crate::{Error, cpu, heap, sync, threads};

/// How a kind collected over a duration is collected: for the duration, with
/// the parameters, until the flag is set.
type Collect = fn(Duration, &Params, &AtomicBool) -> Result<Profile, Error>;

/// One kind of profile this build can take (Go's `*pprof.Profile`).
#[derive(Debug)]
pub struct Kind {
    name: &'static str,
    description: &'static str,
    cumulative: bool,
    count: Option<fn() -> usize>,
    /// The names of its sample types, in order.
    sample_types: &'static [&'static str],
    /// The profile now; `None` for kinds collected over a duration (`profile`).
    now: Option<fn() -> Result<Profile, Error>>,
    /// Collects over a duration (`profile`, `wall`) until the duration ends or
    /// the flag is set; `None` for kinds taken at once.
    over: Option<Collect>,
    /// The text forms (Go's `debug=N`, N > 0) this kind has.
    text: Option<fn(u8) -> Result<String, Error>>,
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

    /// The names of the profile's sample types, in order (`alloc_objects`,
    /// `alloc_space`, `inuse_objects`, `inuse_space` for `heap`), known before
    /// it is taken: a sink checks a requested sample index with them.
    pub fn sample_types(&self) -> &'static [&'static str] {
        self.sample_types
    }

    /// Whether the profile adds up everything since the program started
    /// (`allocs`), rather than showing a moment (`heap`'s memory in use) or a
    /// collection period (`profile`). A cumulative profile tells what happened
    /// between two moments only as the difference of two profiles
    /// (`sonde top --base`).
    pub fn cumulative(&self) -> bool {
        self.cumulative
    }

    /// Whether the kind is taken at once, and so, given a duration, makes a
    /// **delta profile** (what changed during it), as Go's `serveDeltaProfile`
    /// does for `allocs`, `block`, `goroutine`, `heap` and `mutex`. `false` for
    /// kinds collected over a duration (`profile`).
    pub fn supports_delta(&self) -> bool {
        self.now.is_some()
    }

    /// Takes a profile of this kind. A kind taken at once ([`supports_delta`](Self::supports_delta))
    /// given `seconds` makes a delta profile: it is taken, the calling thread
    /// sleeps that long, it is taken again, and [`delta`] subtracts the first
    /// from the second.
    ///
    /// # Errors
    /// [`Error::Parameter`] when a parameter the kind needs is missing (a CPU
    /// profile's duration); what the collector reports (a CPU profile while
    /// another runs is [`Error::AlreadyRunning`]); [`Error::Delta`] when two
    /// profiles cannot be subtracted.
    pub fn take(&self, params: &Params) -> Result<Profile, Error> {
        self.take_until(params, &AtomicBool::new(false))
    }

    /// [`take`](Self::take), ending early once `cancel` is set (within a few
    /// tens of ms): a kind collected over a duration returns what it has, a
    /// delta profile compares what it has. For sinks whose client went away.
    ///
    /// # Errors
    /// As [`take`](Self::take).
    pub fn take_until(&self, params: &Params, cancel: &AtomicBool) -> Result<Profile, Error> {
        match (self.now, self.over, params.seconds) {
            (Some(now), _, None) => now(),
            (Some(now), _, Some(d)) => {
                let before = now()?;
                crate::os::sleep_unless(d, cancel);
                delta(before, now()?)
            }
            (None, Some(over), Some(d)) if !d.is_zero() => over(d, params, cancel),
            _ => Err(Error::Parameter {
                kind: self.name,
                problem: "needs a duration above zero (seconds), how long to collect",
            }),
        }
    }

    /// The profile's text form for Go's `debug=N` (N ≥ 1), where the kind has
    /// one: `goroutine` (1: counts per stack, 2: every thread with its state),
    /// `tasks` (1), `heap` and `allocs` (1: pprof's legacy heap text), `block`
    /// and `mutex` (1: pprof's legacy contention text). `None` when the kind
    /// has no text form (`profile`, the CPU profile, is binary only, as Go's).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a level the kind does not have; what the
    /// collector reports.
    pub fn text(&self, debug: u8) -> Option<Result<String, Error>> {
        self.text.map(|text| text(debug))
    }
}

/// Go's delta profile (`net/http/pprof`'s `serveDeltaProfile`): `after` minus
/// `before`, both of one kind, timed at `after`, lasting from `before` to
/// `after`. Samples that did not change are left out; counts that fell (a
/// `goroutine` delta) are negative.
///
/// # Errors
/// [`Error::Delta`] when the two are not profiles of one kind.
pub fn delta(before: Profile, after: Profile) -> Result<Profile, Error> {
    let (t0, t1) = (before.time_nanos, after.time_nanos);
    let mut d = after.subtract(before).map_err(Error::Delta)?;
    d.time_nanos = t1;
    d.duration_nanos = t1.saturating_sub(t0).max(0);
    Ok(d)
}

/// What a kind accepts when it is taken (Go: `/debug/pprof/NAME`'s query
/// parameters). Build with [`Params::default`] and the `with_` methods. Go's
/// `debug=N` text forms are [`Kind::text`]'s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Params {
    /// How long to collect (Go: `seconds=N`). Required by `profile`, the CPU
    /// profile, and `wall`; for the kinds taken at once, the span of a delta
    /// profile.
    pub seconds: Option<Duration>,
    /// Samples per second of `wall` (1 to 1000; default 99). Other kinds take
    /// no rate: `profile` samples at 100 Hz, as Go's.
    pub hz: Option<u32>,
}

impl Params {
    /// The same parameters, collecting for `duration`.
    pub fn with_seconds(mut self, duration: Duration) -> Params {
        self.seconds = Some(duration);
        self
    }

    /// The same parameters, sampling `hz` times a second (`wall`).
    pub fn with_hz(mut self, hz: u32) -> Params {
        self.hz = Some(hz);
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
        sample_types: &["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
        now: Some(|| Ok(heap::allocs_profile())),
        over: None,
        text: Some(|debug| text_of("allocs", debug, heap::allocs_profile(), legacy::heap_text)),
    },
    Kind {
        name: "block",
        description: "Stack traces that led to blocking on synchronization primitives",
        cumulative: true,
        count: Some(sync::block_count),
        sample_types: &["contentions", "delay"],
        now: Some(|| Ok(sync::block_profile())),
        over: None,
        text: Some(|debug| {
            let rate = format!("block profile rate {} ns (0: off)", sync::block_profile_rate());
            text_of("block", debug, sync::block_profile(), |p| {
                legacy::contention_text(p, false)
            })
            .map(|t| noted(t, &rate))
        }),
    },
    Kind {
        name: "goroutine",
        description: "Stack traces of all current threads (Go: goroutines). Use debug=2 as a query \
                      parameter to list every thread with its state and stack.",
        cumulative: false,
        count: Some(threads::count),
        sample_types: &["goroutine"],
        now: Some(threads::profile),
        over: None,
        text: Some(threads::text),
    },
    Kind {
        name: "heap",
        description: "A sampling of memory allocations of live objects",
        cumulative: false,
        count: Some(heap::record_count),
        sample_types: &["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
        now: Some(|| Ok(heap::profile())),
        over: None,
        text: Some(|debug| text_of("heap", debug, heap::profile(), legacy::heap_text)),
    },
    Kind {
        name: "mutex",
        description: "Stack traces of holders of contended mutexes",
        cumulative: true,
        count: Some(sync::mutex_count),
        sample_types: &["contentions", "delay"],
        now: Some(|| Ok(sync::mutex_profile())),
        over: None,
        text: Some(|debug| {
            let fraction = format!("mutex profile fraction {} (0: off)", sync::mutex_profile_fraction());
            text_of("mutex", debug, sync::mutex_profile(), |p| {
                legacy::contention_text(p, true)
            })
            .map(|t| noted(t, &fraction))
        }),
    },
    #[cfg(feature = "tokio")]
    Kind {
        name: "tasks",
        description: "Live async tasks (tokio) spawned through sonde::tasks, by spawn site",
        cumulative: false,
        count: Some(crate::tasks::count),
        sample_types: &["goroutine", "polls", "poll_time", "idle_time"],
        now: Some(|| Ok(crate::tasks::profile())),
        over: None,
        text: Some(crate::tasks::text),
    },
    Kind {
        name: "profile",
        description: "CPU profile. You can specify the duration in the seconds parameter. After you get the \
                      profile file, use the sonde top command (or go tool pprof) to investigate the profile.",
        cumulative: false,
        count: None,
        sample_types: &["samples", "cpu"],
        now: None,
        over: Some(|d, _, cancel| cpu::profile_until(d, cpu::CpuOptions::default(), cancel)),
        text: None,
    },
    Kind {
        name: "wall",
        description: "Wall-clock profile: every thread's stack, on and off CPU, over the duration in the \
                      seconds parameter (hz: samples per second, default 99). Finds where time goes \
                      waiting (sleeps, I/O, locks), which a CPU profile cannot show.",
        cumulative: false,
        count: None,
        sample_types: &["samples", "wall"],
        now: None,
        over: Some(|d, p, cancel| threads::wall_profile_until(d, p.hz.unwrap_or(99), cancel)),
        text: None,
    },
];

/// A contention text with a comment after its first line saying how the
/// profile is set (`setting`), and that its values are scaled already (which
/// is why it says `sampling period=1`). Readers skip `#` lines.
fn noted(text: String, setting: &str) -> String {
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    format!("{first}\n# sonde: {setting}; the values are scaled already\n{rest}")
}

/// The `debug=1` text of a profile in one of pprof's legacy formats.
fn text_of(kind: &str, debug: u8, p: Profile, write: fn(&Profile) -> String) -> Result<String, Error> {
    match debug {
        1 => Ok(write(&p)),
        _ => Err(Error::InvalidOption(format!(
            "the {kind} profile's text form is debug=1, not debug={debug} (debug=0 is the protobuf profile)"
        ))),
    }
}

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
        want.push("wall");
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
        // The sample types each kind declares are those its profiles have.
        for kind in kinds().filter(|k| k.supports_delta()) {
            let p = kind.take(&Params::default()).expect("a profile");
            let types: Vec<&str> = p.sample_types.iter().map(|t| &*t.ty).collect();
            assert_eq!(types, kind.sample_types(), "{}", kind.name());
        }
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
        // A kind taken at once makes a delta profile over a duration.
        let timed = Params::default().with_seconds(Duration::from_millis(20));
        for name in ["heap", "allocs", "mutex", "block"] {
            let d = take(name, &timed).expect("a delta profile");
            assert!(d.duration_nanos >= 20_000_000, "{name}: {}", d.duration_nanos);
            assert!(lookup(name).expect("kind").supports_delta());
        }
        assert!(!lookup("profile").expect("kind").supports_delta());
    }

    #[test]
    fn text_forms_where_go_has_them() {
        let text = |name: &str, debug| lookup(name).expect("kind").text(debug);
        assert!(text("profile", 1).is_none(), "the CPU profile is binary only");
        let heap = text("heap", 1).expect("a text form").expect("heap text");
        assert!(heap.starts_with("heap profile: "), "{heap}");
        let mutex = text("mutex", 1).expect("a text form").expect("mutex text");
        assert!(
            mutex.starts_with("--- mutex:\n# sonde: mutex profile fraction "),
            "{mutex}"
        );
        Profile::parse(mutex.as_bytes()).expect("the note is a comment to readers");
        let block = text("block", 1).expect("a text form").expect("block text");
        assert!(block.starts_with("--- contention:\n"), "{block}");
        let e = text("heap", 2).expect("a text form").expect_err("no debug=2");
        assert!(e.to_string().contains("debug=1"), "{e}");
    }
}
