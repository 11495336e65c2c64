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
    pub periods: u64,
    pub signals: u64,
}

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
        *samples.entry((locs, *tid)).or_default() += count.periods;
    }
    let mut samples: Vec<_> = samples.into_iter().collect();
    samples.sort_unstable();
    for ((locations, tid), periods) in samples {
        let labels = if o.thread_labels && tid != 0 {
            let name = c.thread_names.get(&tid).map_or("", String::as_str);
            Labels::new(vec![
                Label::str("thread", name),
                Label::num("thread_id", tid as i64, ""),
            ])
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
