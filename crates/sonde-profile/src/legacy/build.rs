//! The profile a legacy parser builds, before it becomes a [`Profile`]: tables
//! that can be reordered and pruned the way pprof's parsers do it (locations
//! numbered by first use in samples, functions by first use in locations,
//! mappings matched to addresses), then the memory map that ends most legacy
//! formats.

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::text::{Lines, is_memory_map_sentinel};
use crate::model::{Function, Label, Labels, Line, Location, Mapping, Profile, Sample, Str, ValueType};

/// A sample: indexes into [`Builder::locations`], values, and the `bytes`
/// label heap profiles carry.
#[derive(Clone, Debug, Default)]
pub(super) struct RawSample {
    pub(super) locations: Vec<usize>,
    pub(super) values: Vec<i64>,
    pub(super) bytes: Option<i64>,
}

/// A location: an address, its mapping (index into [`Builder::mappings`]) and
/// at most one line (function index, line number).
#[derive(Clone, Debug, Default)]
pub(super) struct RawLocation {
    pub(super) address: u64,
    pub(super) mapping: Option<usize>,
    pub(super) line: Option<(usize, i64)>,
}

/// A mapping as read from the memory map.
#[derive(Clone, Debug, Default)]
pub(super) struct RawMapping {
    pub(super) start: u64,
    pub(super) limit: u64,
    pub(super) offset: u64,
    pub(super) file: String,
    pub(super) build_id: String,
}

/// A function: its name and file.
#[derive(Clone, Debug, Default)]
pub(super) struct RawFunction {
    pub(super) name: String,
    pub(super) file: String,
}

/// A profile under construction. Locations, functions and mappings live in
/// arenas; the `*_order` lists are the profile's tables, as indexes into them.
#[derive(Clone, Debug, Default)]
pub(super) struct Builder {
    pub(super) sample_types: Vec<ValueType>,
    pub(super) period_type: Option<ValueType>,
    pub(super) period: i64,
    pub(super) duration_nanos: i64,
    pub(super) samples: Vec<RawSample>,
    pub(super) locations: Vec<RawLocation>,
    pub(super) location_order: Vec<usize>,
    pub(super) functions: Vec<RawFunction>,
    pub(super) function_order: Vec<usize>,
    pub(super) mappings: Vec<RawMapping>,
    pub(super) mapping_order: Vec<usize>,
}

impl Builder {
    /// A builder for a profile with these sample types and period.
    pub(super) fn new(sample_types: &[(&str, &str)], period_type: Option<(&str, &str)>, period: i64) -> Self {
        Builder {
            sample_types: sample_types.iter().map(|&(t, u)| ValueType::new(t, u)).collect(),
            period_type: period_type.map(|(t, u)| ValueType::new(t, u)),
            period,
            ..Builder::default()
        }
    }

    /// The location at `address`, created (and listed) on first use; `seen`
    /// is the parser's address-to-location table.
    pub(super) fn location(&mut self, seen: &mut crate::hash::FastMap<u64, usize>, address: u64) -> usize {
        *seen.entry(address).or_insert_with(|| {
            self.locations.push(RawLocation {
                address,
                ..RawLocation::default()
            });
            self.location_order.push(self.locations.len() - 1);
            self.locations.len() - 1
        })
    }

    /// The locations of a legacy stack of return addresses: each address is
    /// where a call returns to, so its location is the byte before it, inside
    /// the call (pprof subtracts 1 likewise).
    pub(super) fn call_sites(&mut self, seen: &mut crate::hash::FastMap<u64, usize>, addrs: Vec<u64>) -> Vec<usize> {
        addrs
            .into_iter()
            .map(|a| self.location(seen, a.wrapping_sub(1)))
            .collect()
    }

    /// Lists locations in the order samples first use them, dropping unused
    /// ones (pprof's `remapLocationIDs`).
    pub(super) fn remap_locations(&mut self) {
        let mut seen = vec![false; self.locations.len()];
        let mut order = Vec::new();
        for s in &self.samples {
            for &l in &s.locations {
                if !std::mem::replace(&mut seen[l], true) {
                    order.push(l);
                }
            }
        }
        self.location_order = order;
    }

    /// Lists functions in the order locations first use them (pprof's
    /// `remapFunctionIDs`).
    pub(super) fn remap_functions(&mut self) {
        let mut seen = vec![false; self.functions.len()];
        let mut order = Vec::new();
        for &l in &self.location_order {
            if let Some((f, _)) = self.locations[l].line {
                if !std::mem::replace(&mut seen[f], true) {
                    order.push(f);
                }
            }
        }
        self.function_order = order;
    }

    /// Fixes up the mappings as pprof's `remapMappingIDs` does and gives each
    /// location with an address the mapping that holds it, or a catch-all one.
    pub(super) fn remap_mappings(&mut self) {
        let order = &mut self.mapping_order;
        // A leading /anon_hugepage region adjacent to the next one is dropped.
        if order.len() > 1 {
            let (first, second) = (&self.mappings[order[0]], &self.mappings[order[1]]);
            if first.file.starts_with("/anon_hugepage") && first.limit == second.start {
                order.remove(0);
            }
        }
        // A main binary whose start less its offset is the usual load address
        // was split by a remapped section: start it there.
        if let Some(&m) = order.first() {
            let m = &mut self.mappings[m];
            if m.start.wrapping_sub(m.offset) == 0x400000 {
                m.start = 0x400000;
                m.offset = 0;
            }
        }
        let mut fake = None;
        for &l in &self.location_order {
            let loc = &self.locations[l];
            let a = loc.address;
            if loc.mapping.is_some() || a == 0 {
                continue;
            }
            let mut found = order
                .iter()
                .copied()
                .find(|&m| self.mappings[m].start <= a && a < self.mappings[m].limit);
            if found.is_none() {
                // The first part of a mapping split in two, left out by old handlers.
                found = order.iter().copied().find(|&m| {
                    let m = &self.mappings[m];
                    m.offset != 0 && m.start.wrapping_sub(m.offset) <= a && a < m.start
                });
                if let Some(m) = found {
                    let m = &mut self.mappings[m];
                    m.start = m.start.wrapping_sub(m.offset);
                    m.offset = 0;
                }
            }
            let m = found.unwrap_or_else(|| {
                *fake.get_or_insert_with(|| {
                    self.mappings.push(RawMapping {
                        limit: u64::MAX,
                        ..RawMapping::default()
                    });
                    order.push(self.mappings.len() - 1);
                    self.mappings.len() - 1
                })
            });
            self.locations[l].mapping = Some(m);
        }
    }

    /// Reads the memory map from the lines after the current one and renumbers
    /// everything (pprof's `ParseMemoryMapFromScanner`).
    pub(super) fn memory_map(&mut self, lines: &mut Lines<'_>) -> Result<(), Fail> {
        let mut replacements: Vec<(String, String)> = Vec::new();
        while lines.scan() {
            let mut line = strip_log_prefix(lines.text()).to_string();
            if !replacements.is_empty() {
                line = replace(&line, &replacements);
            }
            match mapping_entry(&line) {
                Some(Some(m)) => {
                    self.mappings.push(m);
                    self.mapping_order.push(self.mappings.len() - 1);
                }
                Some(None) => {}
                None => {
                    // `name = value` defines `$name` for the lines after it.
                    if let Some((k, v)) = line.split_once('=') {
                        replacements.push((format!("${}", k.trim()), v.trim().to_string()));
                    }
                }
            }
        }
        lines.check()?;
        self.massage_mappings();
        self.remap_locations();
        self.remap_functions();
        self.remap_mappings();
        Ok(())
    }

    /// Skips to the memory map, if there is one, and reads it (pprof's
    /// `parseAdditionalSections`).
    pub(super) fn additional_sections(&mut self, lines: &mut Lines<'_>) -> Result<(), Fail> {
        while !is_memory_map_sentinel(lines.text()) && lines.scan() {}
        lines.check()?;
        self.memory_map(lines)
    }

    /// Joins adjacent pieces of one mapping and moves what looks like the main
    /// binary first (pprof's `massageMappings`).
    fn massage_mappings(&mut self) {
        if self.mapping_order.len() > 1 {
            let mut kept = vec![self.mapping_order[0]];
            for &m in &self.mapping_order[1..] {
                let last = *kept.last().expect("kept is never empty");
                if adjacent(&self.mappings[last], &self.mappings[m]) {
                    let next = self.mappings[m].clone();
                    let lm = &mut self.mappings[last];
                    lm.limit = next.limit;
                    if !next.file.is_empty() {
                        lm.file = next.file;
                    }
                    if !next.build_id.is_empty() {
                        lm.build_id = next.build_id;
                    }
                    for l in &mut self.locations {
                        if l.mapping == Some(m) {
                            l.mapping = Some(last);
                        }
                    }
                    continue;
                }
                kept.push(m);
            }
            self.mapping_order = kept;
        }
        static LIB: LazyLock<Regex> = re!(r"([.]so$|[.]so[._][0-9]+)");
        let main = self.mapping_order.iter().position(|&m| {
            let file = self.mappings[m].file.replace("(deleted)", "");
            let file = file.trim();
            !file.is_empty() && !LIB.is_match(file) && !file.starts_with('[')
        });
        if let Some(i) = main {
            self.mapping_order.swap(0, i);
        }
    }

    /// Removes the second location of samples whose leaf was recorded twice
    /// (once from the signal context, once adjusted by -1 from unwinding).
    pub(super) fn cleanup_duplicate_locations(&mut self) {
        for s in &mut self.samples {
            if s.locations.len() > 1
                && self.locations[s.locations[0]].address == self.locations[s.locations[1]].address.wrapping_add(1)
            {
                s.locations.remove(1);
            }
        }
    }

    /// The finished profile, with `drop_frames`/`keep_frames` set for its kind.
    pub(super) fn finish(self) -> Result<Profile, Fail> {
        let mut p = Profile {
            sample_types: self.sample_types,
            period_type: self.period_type,
            period: self.period,
            duration_nanos: self.duration_nanos,
            ..Profile::default()
        };
        let mut mapping_index = vec![None; self.mappings.len()];
        for (i, &m) in self.mapping_order.iter().enumerate() {
            mapping_index[m] = Some(i as u32);
            let m = &self.mappings[m];
            p.mappings.push(Mapping {
                memory_start: m.start,
                memory_limit: m.limit,
                file_offset: m.offset,
                filename: Str::from(m.file.as_str()),
                build_id: Str::from(m.build_id.as_str()),
                ..Mapping::default()
            });
        }
        let mut function_index = vec![None; self.functions.len()];
        for (i, &f) in self.function_order.iter().enumerate() {
            function_index[f] = Some(i as u32);
            let f = &self.functions[f];
            let name = Str::from(f.name.as_str());
            p.functions.push(Function {
                system_name: name.clone(),
                name,
                filename: Str::from(f.file.as_str()),
                start_line: 0,
            });
        }
        let broken = || Fail::Malformed("the parsed tables are inconsistent".to_string());
        let mut location_index = vec![None; self.locations.len()];
        for (i, &l) in self.location_order.iter().enumerate() {
            location_index[l] = Some(i as u32);
            let l = &self.locations[l];
            let mut lines = Vec::new();
            if let Some((f, line)) = l.line {
                lines.push(Line {
                    function: function_index[f].ok_or_else(broken)?,
                    line,
                    column: 0,
                });
            }
            p.locations.push(Location {
                mapping: match l.mapping {
                    Some(m) => Some(mapping_index[m].ok_or_else(broken)?),
                    None => None,
                },
                address: l.address,
                lines,
                is_folded: false,
            });
        }
        if p.sample_types.is_empty() && !self.samples.is_empty() {
            return Err(Fail::Malformed(
                "missing sample type information (the profile has samples but no sample types)".to_string(),
            ));
        }
        for s in self.samples {
            if s.values.len() != p.sample_types.len() {
                return Err(Fail::Malformed(format!(
                    "a sample has {} values but the profile has {} sample types",
                    s.values.len(),
                    p.sample_types.len()
                )));
            }
            let locations = s
                .locations
                .iter()
                .map(|&l| location_index[l].ok_or_else(broken))
                .collect::<Result<_, _>>()?;
            p.samples.push(Sample {
                locations,
                values: s.values,
                // A zero size would not survive an encoding (pprof drops a
                // numeric label of 0 with no unit when it decodes).
                labels: match s.bytes {
                    Some(b) if b != 0 => Labels::new(vec![Label::num("bytes", b, "")]),
                    _ => Labels::default(),
                },
            });
        }
        set_frame_filters(&mut p);
        Ok(p)
    }
}

/// Whether `b` continues `a`: same file and build id where both are known,
/// `b` starting where `a` ends, file offsets in step where both are known.
fn adjacent(a: &RawMapping, b: &RawMapping) -> bool {
    if !a.file.is_empty() && !b.file.is_empty() && a.file != b.file {
        return false;
    }
    if !a.build_id.is_empty() && !b.build_id.is_empty() && a.build_id != b.build_id {
        return false;
    }
    if a.limit != b.start {
        return false;
    }
    if a.offset != 0 && b.offset != 0 && a.offset.wrapping_add(a.limit.wrapping_sub(a.start)) != b.offset {
        return false;
    }
    true
}

/// Removes a glog prefix (`I0102 15:04:05.000000 123 file.cc:42] `).
fn strip_log_prefix(line: &str) -> &str {
    static LOG: LazyLock<Regex> = re!(r"^[^\[\]]+:[0-9]+][\t\n\f\r ]");
    match LOG.find(line) {
        Some(m) => &line[m.end()..],
        None => line,
    }
}

/// Replaces every `$name` defined so far, leftmost first, the first definition
/// of a name winning (Go's `strings.Replacer`).
fn replace(line: &str, pairs: &[(String, String)]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    'outer: while i < line.len() {
        for (old, new) in pairs {
            if line[i..].starts_with(old.as_str()) {
                out.push_str(new);
                i += old.len();
                continue 'outer;
            }
        }
        let c = line[i..].chars().next().expect("i is on a character boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// One line of a memory map: `None` if it is not a mapping, `Some(None)` for
/// a mapping that is not executable, else the mapping.
fn mapping_entry(line: &str) -> Option<Option<RawMapping>> {
    // Both forms start with an address range: `0x400000-0x800000` or
    // `400000 800000:`. /proc/self/maps goes on with permissions, offset,
    // device, inode and file; the brief form with file, `(@offset)`, build id.
    static PROC: LazyLock<Regex> = re!(concat!(
        r"^[\t\n\f\r ]*(?:0x)?([0-9A-Fa-f]+)[\t\n\f\r -]?[\t\n\f\r ]*(?:0x)?([0-9A-Fa-f]+):?",
        r"(?:[\t\n\f\r ]+([-rwxp]+))?",
        r"(?:[\t\n\f\r ]+([0-9A-Fa-f]+))?",
        r"[\t\n\f\r ]+[0-9A-Fa-f]+:[0-9A-Fa-f]+",
        r"[\t\n\f\r ]+[0-9]+",
        r"(?:[\t\n\f\r ]+([^\t\n\f\r ]+))?",
    ));
    static BRIEF: LazyLock<Regex> = re!(concat!(
        r"^[\t\n\f\r ]*(?:0x)?([0-9A-Fa-f]+)[\t\n\f\r -]?[\t\n\f\r ]*(?:0x)?([0-9A-Fa-f]+):?",
        r"(?:[\t\n\f\r ]+([-rwxp]+))?",
        r"(?:[\t\n\f\r ]+([^\t\n\f\r ]+))?",
        r"(?:[\t\n\f\r ]+\(@([0-9A-Fa-f]+)\))?",
        r"(?:[\t\n\f\r ]+([0-9A-Fa-f]+))?",
    ));
    let group = |c: &regex::Captures<'_>, i: usize| c.get(i).map_or("", |m| m.as_str()).to_string();
    let (start, end, perm, offset, file, build_id) = if let Some(c) = PROC.captures(line) {
        (
            group(&c, 1),
            group(&c, 2),
            group(&c, 3),
            group(&c, 4),
            group(&c, 5),
            String::new(),
        )
    } else if let Some(c) = BRIEF.captures(line) {
        (
            group(&c, 1),
            group(&c, 2),
            group(&c, 3),
            group(&c, 5),
            group(&c, 4),
            group(&c, 6),
        )
    } else {
        return None;
    };
    if !perm.is_empty() && !perm.contains('x') {
        return Some(None);
    }
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    Some(Some(RawMapping {
        start: hex(&start)?,
        limit: hex(&end)?,
        offset: if offset.is_empty() { 0 } else { hex(&offset)? },
        file,
        build_id,
    }))
}

/// Sets which frames reports drop by default, by the kind of profile, as
/// pprof does for every legacy profile (allocator frames for heap profiles,
/// lock internals for contention, the profiler's signal handler otherwise).
fn set_frame_filters(p: &mut Profile) {
    let types: Vec<&str> = p.sample_types.iter().map(|t| &*t.ty).collect();
    let heap: [&[&str]; 5] = [
        &["allocations", "size"],
        &["objects", "space"],
        &["inuse_objects", "inuse_space"],
        &["alloc_objects", "alloc_space"],
        &["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"],
    ];
    let (drop, keep) = if heap.contains(&types.as_slice()) {
        (ALLOC_FRAMES.join("|"), ALLOC_KEEP_FRAMES.join("|"))
    } else if types == ["contentions", "delay"] {
        (LOCK_FRAMES.join("|"), String::new())
    } else {
        (CPU_PROFILER_FRAMES.join("|"), String::new())
    };
    p.drop_frames = Str::from(drop);
    p.keep_frames = Str::from(keep);
}

/// Allocator entry points (libc, tcmalloc, macOS zones, Go's runtime, C++).
const ALLOC_FRAMES: &[&str] = &[
    "calloc",
    "cfree",
    "malloc",
    "free",
    "memalign",
    "do_memalign",
    "(__)?posix_memalign",
    "pvalloc",
    "valloc",
    "realloc",
    "tcmalloc::.*",
    "tc_calloc",
    "tc_cfree",
    "tc_malloc",
    "tc_free",
    "tc_memalign",
    "tc_posix_memalign",
    "tc_pvalloc",
    "tc_valloc",
    "tc_realloc",
    "tc_new",
    "tc_delete",
    "tc_newarray",
    "tc_deletearray",
    "tc_new_nothrow",
    "tc_newarray_nothrow",
    "malloc_zone_malloc",
    "malloc_zone_calloc",
    "malloc_zone_valloc",
    "malloc_zone_realloc",
    "malloc_zone_memalign",
    "malloc_zone_free",
    r"runtime\..*",
    "BaseArena::.*",
    "(::)?do_malloc_no_errno",
    "(::)?do_malloc_pages",
    "(::)?do_malloc",
    "DoSampledAllocation",
    "MallocedMemBlock::MallocedMemBlock",
    "_M_allocate",
    "__builtin_(vec_)?delete",
    "__builtin_(vec_)?new",
    "__gnu_cxx::new_allocator::allocate",
    "__libc_malloc",
    "__malloc_alloc_template::allocate",
    "allocate",
    "cpp_alloc",
    r"operator new(\[\])?",
    "simple_alloc::allocate",
];

/// Go runtime frames kept although they match [`ALLOC_FRAMES`].
const ALLOC_KEEP_FRAMES: &[&str] = &[r"runtime\.panic", r"runtime\.reflectcall", "runtime\\.call[0-9]*"];

/// gperftools' CPU profiler's own frames.
const CPU_PROFILER_FRAMES: &[&str] = &[
    "ProfileData::Add",
    "ProfileData::prof_handler",
    "CpuProfiler::prof_handler",
    "__pthread_sighandler",
    "__restore",
];

/// Lock internals that record contention.
const LOCK_FRAMES: &[&str] = &[
    "RecordLockProfileData",
    "(base::)?RecordLockProfileData.*",
    "(base::)?SubmitMutexProfileData.*",
    "(base::)?SubmitSpinLockProfileData.*",
    "(base::Mutex::)?AwaitCommon.*",
    "(base::Mutex::)?Unlock.*",
    "(base::Mutex::)?UnlockSlow.*",
    "(base::Mutex::)?ReaderUnlock.*",
    "(base::MutexLock::)?~MutexLock.*",
    "(Mutex::)?AwaitCommon.*",
    "(Mutex::)?Unlock.*",
    "(Mutex::)?UnlockSlow.*",
    "(Mutex::)?ReaderUnlock.*",
    "(MutexLock::)?~MutexLock.*",
    "(SpinLock::)?Unlock.*",
    "(SpinLock::)?SlowUnlock.*",
    "(SpinLockHolder::)?~SpinLockHolder.*",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_map_lines() {
        let m = mapping_entry("00400000-00fcb000 r-xp 00000000 08:01 1234  /bin/app")
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.start, m.limit, m.offset, m.file.as_str()),
            (0x400000, 0xfcb000, 0, "/bin/app")
        );
        assert!(
            mapping_entry("00400000-00fcb000 r--p 00000000 08:01 1234  /bin/app")
                .unwrap()
                .is_none()
        );
        let m = mapping_entry("  7f794964f000-7f7949652000: /lib/libnss.so (@1000) abc12")
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.offset, m.file.as_str(), m.build_id.as_str()),
            (0x1000, "/lib/libnss.so", "abc12")
        );
        assert!(mapping_entry("build=/x").is_none());
        assert_eq!(
            replace("$a/$ab", &[("$a".into(), "1".into()), ("$ab".into(), "2".into())]),
            "1/1b"
        );
        assert_eq!(strip_log_prefix("I0102 x.cc:42] 0-1 f"), "0-1 f");
    }
}
