//! Building the CPU profile from the collected stacks, exactly as Go writes
//! one: `samples/count` and `cpu/nanoseconds`, period type `cpu/nanoseconds`,
//! symbolized functions with inlined frames, and mappings with file names and
//! build ids (the last three by the shared profile builder).

use std::collections::HashMap;

use sonde_profile::{Label, Labels, Profile, Sample, Str, ValueType};

use crate::profile_builder::ProfileBuilder;
use crate::unwind::modules::LoadedModule;

/// A stack as collected: the thread (0 when threads are not labelled) and the
/// frames, pc first, then return addresses.
pub(crate) type StackKey = (u32, Box<[u64]>);

/// Totals of one stack: sampling periods elapsed and signals received.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StackCount {
    /// Periods credited to the stack: at most what a scheduler tick explains per
    /// signal.
    pub periods: u64,
    /// Periods beyond that: CPU time used while the signal was held back
    /// (blocked, or pending through a long system call), which the stack did
    /// not necessarily use. They go to [`HELD_FRAME`] under the stack.
    pub held: u64,
    pub signals: u64,
}

/// The frame that CPU time used while SIGPROF was held back is charged to,
/// placed under the stack where the signal finally arrived: the user sees the
/// gap and where it ended instead of a false hotspot at the instruction that
/// unblocked the signal.
pub const HELD_FRAME: &str = "[sonde: CPU time while the profiling signal was blocked or held in a system call]";

/// Everything the collector hands over when a profile stops.
pub(crate) struct Collected {
    pub stacks: HashMap<StackKey, StackCount>,
    pub thread_names: HashMap<u32, String>,
    pub dropped: u64,
    pub truncated: u64,
    pub threads_seen: usize,
    pub modules: Vec<LoadedModule>,
    pub walk: &'static str,
}

/// How the profile is written.
pub(crate) struct BuildOptions<'a> {
    pub period_ns: u64,
    pub time_nanos: i64,
    pub duration_nanos: i64,
    pub thread_labels: bool,
    pub blocklist: &'a [String],
}

pub(crate) fn build(c: &Collected, o: &BuildOptions) -> Profile {
    let p = Profile {
        sample_types: vec![ValueType::new("samples", "count"), ValueType::new("cpu", "nanoseconds")],
        period_type: Some(ValueType::new("cpu", "nanoseconds")),
        period: o.period_ns as i64,
        time_nanos: o.time_nanos,
        duration_nanos: o.duration_nanos,
        ..Default::default()
    };
    let mut t = ProfileBuilder::new(p, &c.modules, o.blocklist, &[]);
    let mut samples: HashMap<(Vec<u32>, u32), u64> = HashMap::new();
    for ((tid, frames), count) in &c.stacks {
        let locs = t.stack(frames);
        if locs.is_empty() {
            continue;
        }
        if count.held > 0 {
            let mut held = Vec::with_capacity(locs.len() + 1);
            held.push(t.synthetic(HELD_FRAME));
            held.extend_from_slice(&locs);
            *samples.entry((held, *tid)).or_default() += count.held;
        }
        if count.periods > 0 {
            *samples.entry((locs, *tid)).or_default() += count.periods;
        }
    }
    let mut samples: Vec<_> = samples.into_iter().collect();
    samples.sort_unstable();
    for ((locations, tid), periods) in samples {
        let labels = if o.thread_labels && tid != 0 {
            let name = c.thread_names.get(&tid).map_or("", String::as_str);
            let id = Label::num("thread_id", tid as i64, "");
            // A thread that exited before its name was read has only its id.
            Labels::new(if name.is_empty() {
                vec![id]
            } else {
                vec![Label::str("thread", name), id]
            })
        } else {
            Labels::default()
        };
        t.p.samples.push(Sample {
            locations,
            values: vec![periods as i64, periods as i64 * o.period_ns as i64],
            labels,
        });
    }
    let signals: u64 = c.stacks.values().map(|s| s.signals).sum();
    // Comments starting with '#' are kept out of report headers by pprof.
    t.p.comments.push(Str::from(format!(
        "# sonde cpu profile: {signals} signals from {} threads, unwinding with {}",
        c.threads_seen, c.walk
    )));
    if c.dropped > 0 {
        t.p.comments.push(Str::from(format!(
            "dropped {} samples because the sample buffer was full",
            c.dropped
        )));
    }
    if c.truncated > 0 {
        t.p.comments.push(Str::from(format!(
            "truncated {} stacks deeper than {} frames (callers nearest the root are missing)",
            c.truncated,
            super::ring::MAX_DEPTH
        )));
    }
    t.p
}
