//! Thread profiles: Go's goroutine profile for the OS threads of a Rust
//! program. Where are my threads stuck?
//!
//! | Go | sonde |
//! |---|---|
//! | `pprof.Lookup("goroutine").WriteTo(w, 0)` | [`profile`]`()?.write_file(..)` |
//! | `pprof.Lookup("goroutine").WriteTo(w, 1)` | [`text`]`(1)?`: `goroutine profile: total N`, then each distinct stack with its count |
//! | `pprof.Lookup("goroutine").WriteTo(w, 2)` | [`text`]`(2)?`: every thread, its state, name and stack |
//! | `runtime.NumGoroutine()` | [`count`]`()` |
//! | fgprof (`fgprof.Handler()`), wall-clock time | [`wall_profile`]`(duration, hz)?` |
//!
//! Every thread's current stack is captured at one moment: each thread is sent
//! a real-time signal of its own (`SIGRTMIN+6`, so it works while a CPU profile
//! runs), and its handler walks its stack with the shared unwinder. A thread
//! that blocks the signal, exits meanwhile or does not run within the
//! deadline (a deadlocked thread still answers: its signal handler runs) is
//! reported as such, with its name and state from `/proc`, and is never waited
//! on forever. Samples are `goroutine/count`, labelled with the thread's name
//! (`thread`) and state (`state`: `running`, `sleeping`, `disk sleep`, …), so
//! `sonde top --tagfocus state=sleeping` and `sonde tags` work; two snapshots
//! diff with `sonde top --base before.pb.gz after.pb.gz` (threads that grew).
//!
//! The map of the module: `capture.rs` (the signal, the request, the handler).

mod capture;

pub(crate) use capture::fork_child;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use sonde_profile::{Label, Labels, Profile, Sample, ValueType};

use crate::Error;
use crate::os::{self, ThreadState};

/// How long [`profile`] and [`text`] wait for the threads to answer.
pub const DEADLINE: Duration = Duration::from_secs(1);

/// The frame of a thread that did not answer in time.
pub const NO_ANSWER_FRAME: &str =
    "[sonde: no stack: the thread did not answer (it blocks the signal, exited, or did not run in time)]";

/// The number of threads of the process now (Go's `runtime.NumGoroutine`, for
/// threads).
pub fn count() -> usize {
    os::TaskDir::open().and_then(|mut d| d.list()).map_or(0, |t| t.len())
}

/// The thread profile: every thread's current stack, one `goroutine/count`
/// sample per distinct (stack, name, state), labelled `thread` and `state`
/// (Go's `pprof.Lookup("goroutine")`).
///
/// # Errors
/// [`Error::SignalHandlerInUse`] when another component owns `SIGRTMIN+6`;
/// [`Error::CaptureBusy`] when other captures (threads of this program
/// taking thread or wall-clock profiles at once) kept it waiting past
/// [`DEADLINE`]; [`Error::Io`] when `/proc/self/task` cannot be read.
pub fn profile() -> Result<Profile, Error> {
    let p = crate::alloc::quietly(|| per_thread().map(merge_threads))?;
    Ok(crate::alloc::hand_over(p))
}

/// The per-thread samples merged by (stack, name, state), most threads first.
fn merge_threads(mut p: Profile) -> Profile {
    let mut merged: HashMap<(Vec<u32>, Labels), i64> = HashMap::new();
    for s in std::mem::take(&mut p.samples) {
        let labels = s.labels.without(|l| &*l.key == "thread_id");
        *merged.entry((s.locations, labels)).or_default() += s.values[0];
    }
    let mut samples: Vec<_> = merged.into_iter().collect();
    samples.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.0.cmp(&b.0.0)));
    p.samples = samples
        .into_iter()
        .map(|((locations, labels), n)| Sample {
            locations,
            values: vec![n],
            labels,
        })
        .collect();
    p
}

/// Go's text forms of the thread profile: `debug = 1` is `goroutine profile:
/// total N`, then each distinct stack with how many threads are in it and its
/// frames (the line the seed article's leak check greps for); `debug = 2` is
/// one block per thread: `goroutine TID [state, "name"]:` and its frames. Linux
/// does not say how long a thread has been in its state, so unlike Go's
/// `[chan receive, 5 minutes]` no duration is given.
///
/// # Errors
/// As [`profile`]; [`Error::InvalidOption`] for a `debug` other than 1 or 2.
pub fn text(debug: u8) -> Result<String, Error> {
    if !(1..=2).contains(&debug) {
        return Err(Error::InvalidOption(format!(
            "a thread profile's text form is debug=1 or debug=2, not debug={debug} (debug=0 is the protobuf profile)"
        )));
    }
    let quiet = crate::alloc::quietly(|| {
        let p = per_thread()?;
        Ok::<_, Error>(if debug == 1 {
            sonde_profile::legacy::count_text(&merge_threads(p), "goroutine")
        } else {
            text_threads(&p)
        })
    })?;
    // The text is the program's: a copy in its memory, the quiet one freed quietly.
    let mine = quiet.clone();
    crate::alloc::quietly(|| drop(quiet));
    Ok(mine)
}

/// Leading frames that are sonde's own (the calling thread's capture).
const OWN_FRAMES: &[&str] = &[
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/threads/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/unwind/"),
    "sonde::threads::",
    "sonde::alloc::",
];

/// An empty profile of Go's goroutine kind, taken now: `goroutine/count`,
/// period 1 (threads, task dumps).
pub(crate) fn goroutine_profile() -> Profile {
    Profile {
        sample_types: vec![ValueType::new("goroutine", "count")],
        period_type: Some(ValueType::new("goroutine", "count")),
        period: 1,
        time_nanos: crate::profile_builder::unix_nanos(std::time::SystemTime::now()),
        ..Default::default()
    }
}

/// One sample per thread, labelled `thread`, `thread_id` and `state`. Call
/// quietly: the profile is sonde's until handed over.
fn per_thread() -> Result<Profile, Error> {
    let captured = capture::capture_all(DEADLINE, true)?;
    let modules = crate::unwind::modules::loaded_modules();
    let mut t = crate::profile_builder::ProfileBuilder::new(goroutine_profile(), &modules, &[], OWN_FRAMES);
    for c in captured {
        let locations = match &c.frames {
            Some(frames) => t.stack(frames),
            None => vec![t.synthetic(NO_ANSWER_FRAME)],
        };
        let (name, state) = os::name_and_state(c.tid).unwrap_or_default();
        t.p.samples.push(Sample {
            locations,
            values: vec![1],
            labels: labels(&name, Some(c.tid), state.map_or("exited", ThreadState::as_str)),
        });
    }
    Ok(t.p)
}

/// The wall-clock profile (the idea of Go's fgprof): every thread's stack
/// sampled `hz` times a second for `duration`, on CPU and off CPU alike, so
/// that sleeping, waiting for a lock and I/O show as the wall time they take,
/// which a CPU profile cannot show. Samples are `samples/count` and
/// `wall/nanoseconds` (a sample stands for one period, `1e9 / hz` ns, of one
/// thread), labelled `thread` and `state`; the sampling thread itself (the
/// caller) is left out. A thread that does not answer within a period counts
/// under [`NO_ANSWER_FRAME`]. A period in which another capture of every
/// thread (a [`profile`] called elsewhere) holds the threads is skipped, and
/// the profile's comments say how many were. Cost: one signal per thread per
/// period.
///
/// # Errors
/// [`Error::InvalidOption`] for `hz` outside 1 to 1000; as [`profile`].
pub fn wall_profile(duration: Duration, hz: u32) -> Result<Profile, Error> {
    wall_profile_until(duration, hz, &std::sync::atomic::AtomicBool::new(false))
}

/// [`wall_profile`], ending early (with what it has) once `cancel` is set: a
/// client of `/debug/pprof/wall` that went away.
pub(crate) fn wall_profile_until(
    duration: Duration,
    hz: u32,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Profile, Error> {
    if !(1..=1000).contains(&hz) {
        return Err(Error::InvalidOption(format!(
            "the wall-clock profile samples 1 to 1000 times a second, not {hz}"
        )));
    }
    let period = Duration::from_nanos(1_000_000_000 / hz as u64);
    let started = std::time::Instant::now();
    let p = crate::alloc::quietly(|| -> Result<Profile, Error> {
        let mut counts: HashMap<(u32, Option<Vec<u64>>, &'static str), i64> = HashMap::new();
        let mut next = started;
        let (mut ticks, mut skipped) = (0u64, 0u64);
        while started.elapsed() < duration && !cancel.load(std::sync::atomic::Ordering::Relaxed) {
            ticks += 1;
            match capture::capture_all(period, false) {
                Ok(captured) => {
                    for c in captured {
                        let state = os::state(c.tid).map_or("exited", ThreadState::as_str);
                        *counts.entry((c.tid, c.frames, state)).or_default() += 1;
                    }
                }
                // Another capture (a thread profile, another wall profile)
                // holds the threads this period: this tick is skipped, not
                // the whole profile.
                Err(Error::CaptureBusy { .. }) => skipped += 1,
                Err(e) => return Err(e),
            }
            next += period;
            if let Some(wait) = next.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let modules = crate::unwind::modules::loaded_modules();
        let p = Profile {
            sample_types: vec![
                ValueType::new("samples", "count"),
                ValueType::new("wall", "nanoseconds"),
            ],
            period_type: Some(ValueType::new("wall", "nanoseconds")),
            period: period.as_nanos() as i64,
            time_nanos: crate::profile_builder::unix_nanos(std::time::SystemTime::now() - started.elapsed()),
            duration_nanos: started.elapsed().as_nanos() as i64,
            ..Default::default()
        };
        let mut t = crate::profile_builder::ProfileBuilder::new(p, &modules, &[], OWN_FRAMES);
        if skipped > 0 {
            t.p.comments.push(
                format!(
                    "{skipped} of {ticks} periods were skipped: other captures of every thread's stack \
                     (thread profiles) ran then"
                )
                .into(),
            );
        }
        let mut names: HashMap<u32, String> = HashMap::new();
        for ((tid, frames, state), n) in counts {
            let locations = match &frames {
                Some(frames) => t.stack(frames),
                None => vec![t.synthetic(NO_ANSWER_FRAME)],
            };
            let name = names.entry(tid).or_insert_with(|| os::thread_name(tid));
            t.p.samples.push(Sample {
                locations,
                values: vec![n, n * period.as_nanos() as i64],
                labels: labels(name, None, state),
            });
        }
        Ok(t.p)
    })?;
    Ok(crate::alloc::hand_over(p))
}

/// A sample's labels: `thread` (unless the name is unknown: the thread exited
/// before it was read), `thread_id` when given, `state`.
fn labels(name: &str, tid: Option<u32>, state: &str) -> Labels {
    let mut l = Vec::with_capacity(3);
    if !name.is_empty() {
        l.push(Label::str("thread", name));
    }
    if let Some(tid) = tid {
        l.push(Label::num("thread_id", tid as i64, ""));
    }
    l.push(Label::str("state", state));
    Labels::new(l)
}

/// The frames of a sample, innermost first: (address, function, file, line).
fn frames_of(p: &Profile, s: &Sample) -> Vec<(u64, String, String, i64)> {
    let mut out = Vec::new();
    for &l in &s.locations {
        let loc = &p.locations[l as usize];
        for line in &loc.lines {
            let f = &p.functions[line.function as usize];
            out.push((loc.address, f.name.to_string(), f.filename.to_string(), line.line));
        }
        if loc.lines.is_empty() {
            out.push((loc.address, format!("{:#x}", loc.address), String::new(), 0));
        }
    }
    out
}

/// `debug=2`: one block per thread, as Go's `goroutine N [state]:` dumps.
fn text_threads(p: &Profile) -> String {
    let mut out = String::new();
    for s in &p.samples {
        let label = |k: &str| s.labels.strs(k).next().map_or(String::new(), |v| v.to_string());
        let tid = s.labels.nums("thread_id").next().map_or(0, |(v, _)| v);
        let _ = writeln!(out, "goroutine {tid} [{}, \"{}\"]:", label("state"), label("thread"));
        for (_, function, file, line) in frames_of(p, s) {
            let _ = writeln!(out, "{function}(...)");
            if !file.is_empty() {
                let _ = writeln!(out, "\t{file}:{line}");
            }
        }
        out.push('\n');
    }
    out
}
