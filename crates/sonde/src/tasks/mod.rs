//! The async-task profile (feature `tokio`): Go's goroutine profile for tokio
//! tasks, on stable tokio. Where are my tasks, and which spawn site leaks them?
//!
//! | Go | sonde |
//! |---|---|
//! | `go f()` | [`spawn`]`(f())` (instead of `tokio::spawn`), [`spawn_blocking`], [`Builder`]`::new().name("job").spawn(..)` |
//! | `pprof.Lookup("goroutine").WriteTo(w, 0)` | [`profile`]`()` |
//! | `pprof.Lookup("goroutine").WriteTo(w, 1)` | [`text`]`(1)?`: `goroutine profile: total N`, then each spawn stack with its count |
//! | `runtime.NumGoroutine()` | [`count`]`()` |
//!
//! A task spawned through this module is listed from its first wait (the end
//! of a first poll that returns pending) until it ends: finished, aborted,
//! panicked or dropped. The task owns its record (one word in the task), so
//! nothing outlives it. The profile's samples are `goroutine/count`
//! per spawn stack (the spawner's stack, captured once per spawn site and
//! thread), labelled `spawned_at` (`src/jobs.rs:42`), `task` (its name, if
//! given), `state` (`running` or `idle`: awaiting something) and `age` (`<1s`,
//! `1s-1m`, `1m-1h`, `>1h`; counted from the task's listing, its first wait,
//! which a runtime that is not starved reaches soon after the spawn), with the
//! oldest age in the group as the numeric label `oldest_age` (ns). More sample types say what the tasks cost: `polls`
//! (count), `poll_time` (ns spent in polls, estimated from one poll in 16 on
//! each thread) and `idle_time` (ns since each task's last poll, summed, to the
//! scheduler tick): `sonde top --sample-index poll_time tasks.pb.gz`.
//!
//! Tasks spawned with plain `tokio::spawn` are not seen (stable tokio offers
//! no hook for them). Where each task is awaiting now is `dump`'s, from tokio's
//! task dumps, built with feature `taskdump` and `--cfg tokio_unstable`.
//!
//! The map of the module: `registry.rs` (the live tasks and each task's
//! record), `sites.rs` (spawn sites and their stacks), `dump.rs` (task dumps),
//! this file (spawning, the tracked future, the profile).

#[cfg(all(feature = "taskdump", tokio_unstable))]
mod dump;
mod registry;
mod sites;

#[cfg(all(feature = "taskdump", tokio_unstable))]
pub use dump::dump;

use std::collections::HashMap;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

use sonde_profile::{Label, Labels, Profile, Sample, ValueType};
use tokio::task::JoinHandle;

use crate::Error;
use registry::Record;

/// Spawns `future` on the current tokio runtime as `tokio::spawn` does (and
/// panics outside one, as it does), listing the task in the task profile under
/// the caller's location and stack.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Builder::new().spawn(future)
}

/// Runs `f` on tokio's blocking threads as `tokio::task::spawn_blocking` does,
/// listing it in the task profile while it runs.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Builder::new().spawn_blocking(f)
}

/// Spawns tasks with a name (the task profile's `task` label).
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<Box<str>>,
}

impl Builder {
    /// A builder for an unnamed task.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: &str) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns `future` (see [`spawn`]).
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let record = self.record(Location::caller());
        tokio::spawn(Tracked { record, future })
    }

    /// Runs `f` on tokio's blocking threads (see [`spawn_blocking`]).
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let mut record = self.record(Location::caller());
        tokio::task::spawn_blocking(move || {
            // Listed while `f` runs; the record unlists it when dropped,
            // however `f` ends.
            record.list(0, 0, true, tokio::task::try_id());
            if let Some(info) = record.listed() {
                info.running.store(true, Relaxed);
            }
            f()
        })
    }

    #[inline]
    fn record(self, location: &'static Location<'static>) -> Record {
        let site = sites::index(location);
        match self.name {
            None => Record::unlisted(site),
            Some(name) => Record::named(site, name),
        }
    }
}

/// A spawned future with its record.
struct Tracked<F> {
    record: Record,
    future: F,
}

/// One poll in this many is timed (per thread), and counts that many times:
/// reading a fine clock around every poll would cost tiny tasks more than the
/// rest of the wrapper.
const TIMED_POLL_EVERY: u32 = 16;

thread_local! {
    /// Polls on this thread since the last timed one.
    static POLLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is never moved out of `self` (structural pinning of
        // that one field); `record` is not pinned data (it is one word, and
        // its listing is boxed). Drop does not move `future`.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some(info) = this.record.listed() {
            info.running.store(true, Relaxed);
        }
        let timed = POLLS.with(|n| {
            let k = n.get() + 1;
            n.set(if k >= TIMED_POLL_EVERY { 0 } else { k });
            k >= TIMED_POLL_EVERY
        });
        let start = if timed { crate::sync::now_ns() } else { 0 };
        // SAFETY: as above.
        let r = unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx);
        let took = if timed {
            crate::sync::now_ns().saturating_sub(start) * TIMED_POLL_EVERY as u64
        } else {
            0
        };
        match this.record.listed() {
            Some(info) => {
                info.poll_ns.store(info.poll_ns.load(Relaxed) + took, Relaxed);
                info.polls.store(info.polls.load(Relaxed) + 1, Relaxed);
                info.last_poll.store(registry::coarse_ns().max(1), Relaxed);
                info.running.store(false, Relaxed);
            }
            // A task is listed from its first wait: one that ends in its
            // first poll costs no listing.
            None if r.is_pending() => this.record.list(1, took, false, tokio::task::try_id()),
            None => {}
        }
        r
    }
}

/// How many tracked tasks are live now.
pub fn count() -> usize {
    registry::count()
}

/// The age buckets of the `age` label, with their upper bounds in ns.
const AGES: &[(u64, &str)] = &[
    (1_000_000_000, "<1s"),
    (60_000_000_000, "1s-1m"),
    (3_600_000_000_000, "1m-1h"),
    (u64::MAX, ">1h"),
];

/// Leading frames of the spawner's stack that are sonde's own.
const OWN_FRAMES: &[&str] = &[
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/tasks/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/unwind/"),
    "sonde::tasks::",
    "sonde::alloc::",
];

/// The task profile now (see the module documentation).
pub fn profile() -> Profile {
    crate::alloc::hand_over(crate::alloc::quietly(build))
}

/// The labels of a tracked task: `spawned_at`, `task` (its name, if any),
/// `state`, `age` (a bucket of [`AGES`]).
fn task_labels(site: &Location<'_>, name: Option<&str>, state: &str, age: &str) -> Vec<Label> {
    let mut labels = vec![Label::str("spawned_at", &format!("{}:{}", site.file(), site.line()))];
    if let Some(name) = name {
        labels.push(Label::str("task", name));
    }
    labels.push(Label::str("state", state));
    labels.push(Label::str("age", age));
    labels
}

/// The `age` label of a task `age_ns` old.
fn age_bucket(age_ns: u64) -> &'static str {
    AGES.iter().find(|(limit, _)| age_ns < *limit).map_or(">1h", |a| a.1)
}

/// One group of the profile: spawn site (index), name, state, age bucket.
type Group = (u32, Option<String>, &'static str, &'static str);

fn build() -> Profile {
    let now = registry::coarse_ns();
    let tasks = registry::snapshot(now);
    // After the snapshot: sites are only added, so every task's is here.
    let sites = sites::with(|l| l.clone());
    // Per group: tasks, polls, poll ns, idle ns, oldest age.
    let mut groups: HashMap<Group, [u64; 5]> = HashMap::new();
    for t in tasks {
        let state = if t.running { "running" } else { "idle" };
        let age = age_bucket(t.age_ns);
        let g = groups.entry((t.site, t.name, state, age)).or_default();
        g[0] += 1;
        g[1] += t.polls;
        g[2] += t.poll_ns;
        g[3] += if t.running || t.blocking { 0 } else { t.since_poll_ns };
        g[4] = g[4].max(t.age_ns);
    }
    let modules = crate::unwind::modules::loaded_modules();
    let p = Profile {
        sample_types: vec![
            ValueType::new("goroutine", "count"),
            ValueType::new("polls", "count"),
            ValueType::new("poll_time", "nanoseconds"),
            ValueType::new("idle_time", "nanoseconds"),
        ],
        default_sample_type: "goroutine".into(),
        period_type: Some(ValueType::new("goroutine", "count")),
        period: 1,
        time_nanos: crate::profile_builder::unix_nanos(std::time::SystemTime::now()),
        ..Default::default()
    };
    let mut t = crate::profile_builder::ProfileBuilder::new(p, &modules, &[], OWN_FRAMES);
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then_with(|| a.0.0.cmp(&b.0.0)));
    for ((site, name, state, age), v) in groups {
        let Some(site) = sites.get(site as usize) else { continue };
        let locations = t.stack(&site.frames);
        let mut labels = task_labels(site.location, name.as_deref(), state, age);
        labels.push(Label::num(
            "oldest_age",
            v[4].min(i64::MAX as u64) as i64,
            "nanoseconds",
        ));
        t.p.samples.push(Sample {
            locations,
            values: v[..4].iter().map(|&x| x.min(i64::MAX as u64) as i64).collect(),
            labels: Labels::new(labels),
        });
    }
    t.p
}

/// Go's text form of the task profile: `debug = 1` is `goroutine profile:
/// total N`, then each spawn stack with how many tasks it has (the format of
/// [`threads::text`](crate::threads::text)`(1)`, from
/// [`sonde_profile::legacy::count_text`]).
///
/// # Errors
/// [`Error::InvalidOption`] for a `debug` other than 1.
pub fn text(debug: u8) -> Result<String, Error> {
    match debug {
        1 => Ok(sonde_profile::legacy::count_text(&profile(), "goroutine")),
        _ => Err(Error::InvalidOption(format!(
            "a task profile's text form is debug=1, not debug={debug} (debug=0 is the protobuf profile)"
        ))),
    }
}

/// Before `fork()` (see `crate::fork`): the registry, then the spawn sites.
pub(crate) fn fork_prepare() {
    registry::fork_prepare();
    sites::fork_prepare();
}

/// After `fork()`, in parent and child.
pub(crate) fn fork_release() {
    sites::fork_release();
    registry::fork_release();
}
