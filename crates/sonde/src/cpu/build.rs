//! Turning collected stacks into a pprof profile exactly as Go writes a CPU
//! profile: `samples/count` and `cpu/nanoseconds`, period type
//! `cpu/nanoseconds`, symbolized functions with inlined frames, and mappings with
//! file names and build ids.

use std::collections::HashMap;

use sonde_profile::{Function, Label, Labels, Line, Location, Mapping, Profile, Sample, Str, ValueType};

use crate::symbolize::{self, SourceFrame};
use crate::unwind::modules::{LoadedModule, module_for};

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

#[derive(Default)]
struct Tables {
    p: Profile,
    functions: HashMap<Function, u32>,
    mappings: HashMap<usize, u32>,
    locations: HashMap<u64, Option<u32>>,
}

pub(crate) fn build(c: &Collected, o: &BuildOptions) -> Profile {
    let mut t = Tables {
        p: Profile {
            sample_types: vec![ValueType::new("samples", "count"), ValueType::new("cpu", "nanoseconds")],
            period_type: Some(ValueType::new("cpu", "nanoseconds")),
            period: o.period_ns as i64,
            time_nanos: o.time_nanos,
            duration_nanos: o.duration_nanos,
            ..Default::default()
        },
        ..Default::default()
    };
    // The main binary is the first mapping, as pprof expects.
    if !c.modules.is_empty() {
        t.mapping(c, 0);
    }
    let mut samples: HashMap<(Vec<u32>, u32), u64> = HashMap::new();
    for ((tid, frames), count) in &c.stacks {
        let mut locs = Vec::with_capacity(frames.len());
        for (i, &addr) in frames.iter().enumerate() {
            // Return addresses point after the call; look up the call itself.
            let lookup = if i == 0 { addr } else { addr.wrapping_sub(1) };
            if let Some(l) = t.location(c, lookup, o.blocklist) {
                locs.push(l);
            }
        }
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

impl Tables {
    fn mapping(&mut self, c: &Collected, m: usize) -> u32 {
        if let Some(&i) = self.mappings.get(&m) {
            return i;
        }
        let lm = &c.modules[m];
        let i = self.p.mappings.len() as u32;
        self.p.mappings.push(Mapping {
            memory_start: lm.text.start,
            memory_limit: lm.text.end,
            file_offset: lm.file_offset,
            filename: Str::from(lm.path.as_str()),
            build_id: Str::from(lm.build_id_hex()),
            has_functions: lm.has_file,
            has_filenames: lm.has_file,
            has_line_numbers: lm.has_file,
            has_inline_frames: lm.has_file,
        });
        self.mappings.insert(m, i);
        i
    }

    fn function(&mut self, f: &SourceFrame) -> u32 {
        let key = Function {
            name: Str::from(f.function.as_str()),
            system_name: Str::from(f.system_name.as_str()),
            filename: Str::from(f.file.as_str()),
            start_line: 0,
        };
        if let Some(&i) = self.functions.get(&key) {
            return i;
        }
        let i = self.p.functions.len() as u32;
        self.p.functions.push(key.clone());
        self.functions.insert(key, i);
        i
    }

    /// The location of `addr`, or `None` when every frame of it is blocklisted.
    fn location(&mut self, c: &Collected, addr: u64, blocklist: &[String]) -> Option<u32> {
        if let Some(&l) = self.locations.get(&addr) {
            return l;
        }
        let m = module_for(&c.modules, addr);
        let frames: std::sync::Arc<[SourceFrame]> = match m {
            Some(m) if c.modules[m].has_file => symbolize::resolve(&c.modules[m].path, addr - c.modules[m].bias),
            _ => std::sync::Arc::from(Vec::new()),
        };
        let kept: Vec<&SourceFrame> = frames
            .iter()
            .filter(|f| !blocklist.iter().any(|b| f.function.starts_with(b.as_str())))
            .collect();
        let result = if !frames.is_empty() && kept.is_empty() {
            None
        } else {
            let lines = kept
                .iter()
                .map(|f| Line {
                    function: self.function(f),
                    line: f.line as i64,
                    column: 0,
                })
                .collect();
            let mapping = m.map(|m| self.mapping(c, m));
            let i = self.p.locations.len() as u32;
            self.p.locations.push(Location {
                mapping,
                address: addr,
                lines,
                is_folded: false,
            });
            Some(i)
        };
        self.locations.insert(addr, result);
        result
    }
}
