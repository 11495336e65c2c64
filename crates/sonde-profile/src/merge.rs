//! Combining profiles: merge (sum of several), compaction (garbage collection of
//! unreferenced entries), base subtraction (`-base`) and comparison against a base
//! (`-diff_base`), with pprof's semantics.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::hash::{FastHasher, FastMap};
use crate::model::{Function, Labels, Line, Location, Mapping, Profile, Sample, ValueType};
use crate::units;
use crate::{Error, Result};

/// The label pprof puts on samples that come from a `-diff_base` profile.
pub const BASE_LABEL: &str = "pprof::base";

/// Sums several profiles of the same kind into one.
///
/// Sample and period types must match (units may differ within a dimension, e.g.
/// milliseconds and nanoseconds; values are converted to the finest). Identical
/// stacks with identical labels become one sample; samples whose values are all
/// zero are dropped, and so are locations, functions and mappings no sample uses.
/// The result's period is the largest, its time the earliest, its duration the sum.
pub fn merge(mut profiles: Vec<Profile>) -> Result<Profile> {
    if profiles.is_empty() {
        return Err(Error::NoProfiles);
    }
    if profiles.len() > 1 {
        scale_to_common_units(&mut profiles)?;
    }
    let merged = merge_same_units(profiles)?;
    if merged.samples.iter().any(is_zero) {
        // Values cancelled out: merge again to drop them and what only they used.
        return merge_same_units(vec![merged]);
    }
    Ok(merged)
}

impl Profile {
    /// Removes samples with only zero values, merges identical samples and drops
    /// every location, function and mapping that no sample refers to.
    pub fn compact(self) -> Profile {
        // A single profile is always compatible with itself.
        merge(vec![self]).expect("merging a single profile cannot fail")
    }

    /// Subtracts `base` from this profile (pprof's `-base`): what grew is positive,
    /// what shrank negative. Both must be of the same kind.
    pub fn subtract(self, mut base: Profile) -> Result<Profile> {
        base.scale(-1.0);
        merge(vec![self, base])
    }

    /// Combines this profile with `base` for comparison (pprof's `-diff_base`): base
    /// samples are negated and labelled `pprof::base=true`, so reports show the
    /// change as a percentage of the base.
    pub fn diff_against(self, mut base: Profile) -> Result<Profile> {
        base.set_label(BASE_LABEL, "true");
        base.scale(-1.0);
        merge(vec![self, base])
    }

    /// Whether a sample came from a `-diff_base` profile.
    pub fn is_diff_base_sample(sample: &Sample) -> bool {
        sample.labels.has(BASE_LABEL, "true")
    }
}

fn is_zero(s: &Sample) -> bool {
    s.values.iter().all(|&v| v == 0)
}

/// Converts all profiles to the finest unit of each value type.
fn scale_to_common_units(profiles: &mut [Profile]) -> Result<()> {
    let period_types: Vec<&ValueType> = profiles.iter().filter_map(|p| p.period_type.as_ref()).collect();
    let period_type =
        units::common_value_type(&period_types).map_err(|e| Error::Incompatible(format!("period type: {e}")))?;
    let n = profiles[0].sample_types.len();
    if let Some(p) = profiles.iter().find(|p| p.sample_types.len() != n) {
        return Err(Error::Incompatible(format!(
            "one profile has {n} sample types ({}) and another {} ({})",
            type_list(&profiles[0].sample_types),
            p.sample_types.len(),
            type_list(&p.sample_types)
        )));
    }
    let mut common = Vec::with_capacity(n);
    for i in 0..n {
        let types: Vec<&ValueType> = profiles.iter().map(|p| &p.sample_types[i]).collect();
        common.push(units::common_value_type(&types).map_err(|e| {
            Error::Incompatible(format!(
                "their sample types differ ({e}); combine profiles of the same kind"
            ))
        })?);
    }
    for p in profiles.iter_mut() {
        if let (Some(pt), Some(common_pt)) = (p.period_type.as_mut(), period_type.as_ref()) {
            p.period = units::scale(p.period, &pt.unit, &common_pt.unit).0 as i64;
            pt.unit = common_pt.unit.clone();
        }
        let mut ratios = vec![1.0; n];
        for (i, st) in p.sample_types.iter_mut().enumerate() {
            if let Some(c) = &common[i] {
                ratios[i] = units::scale(1, &st.unit, &c.unit).0;
                st.unit = c.unit.clone();
            }
        }
        p.scale_each(&ratios);
    }
    Ok(())
}

fn type_list(types: &[ValueType]) -> String {
    types.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
}

fn check_compatible(a: &Profile, b: &Profile) -> Result<()> {
    let pa = a.period_type.clone().unwrap_or_default();
    let pb = b.period_type.clone().unwrap_or_default();
    if pa != pb {
        return Err(Error::Incompatible(format!("period types differ: {pa} and {pb}")));
    }
    if a.sample_types != b.sample_types {
        return Err(Error::Incompatible(format!(
            "sample types differ: [{}] and [{}]",
            type_list(&a.sample_types),
            type_list(&b.sample_types)
        )));
    }
    Ok(())
}

#[derive(PartialEq, Eq, Hash)]
struct MappingKey {
    size: u64,
    offset: u64,
    build_id_or_file: crate::model::Str,
}

impl MappingKey {
    fn of(m: &Mapping) -> Self {
        // Round the size up to 4 KiB to absorb small differences between runs.
        const ROUND: u64 = 0x1000;
        let size = m.memory_limit.wrapping_sub(m.memory_start);
        let size = size.wrapping_add(ROUND - 1);
        MappingKey {
            size: size - size % ROUND,
            offset: m.file_offset,
            build_id_or_file: if !m.build_id.is_empty() {
                m.build_id.clone()
            } else {
                m.filename.clone()
            },
        }
    }
}

#[derive(PartialEq, Eq, Hash)]
struct LocationKey {
    addr: u64,
    mapping: Option<u32>,
    lines: Vec<Line>,
    is_folded: bool,
}

/// Builds the merged profile, remembering what was already added.
struct Merger {
    out: Profile,
    mappings: HashMap<MappingKey, u32>,
    functions: FastMap<Function, u32>,
    locations: FastMap<LocationKey, u32>,
    label_sets: HashMap<Labels, u32>,
    label_ptrs: FastMap<usize, (Labels, u32)>,
    samples: FastMap<u64, u32>,
    sample_next: Vec<u32>,
    sample_label: Vec<u32>,
}

const NONE: u32 = u32::MAX;

/// Per-source memo of what each of its entries became in the merged profile.
struct SourceMaps {
    mappings: Vec<Option<(u32, i64)>>,
    functions: Vec<u32>,
    locations: Vec<u32>,
}

fn merge_same_units(srcs: Vec<Profile>) -> Result<Profile> {
    for s in &srcs[1..] {
        check_compatible(&srcs[0], s)?;
    }
    let mut out = Profile {
        sample_types: srcs[0].sample_types.clone(),
        drop_frames: srcs[0].drop_frames.clone(),
        keep_frames: srcs[0].keep_frames.clone(),
        period_type: srcs[0].period_type.clone(),
        doc_url: srcs[0].doc_url.clone(),
        ..Default::default()
    };
    let mut seen_comments = std::collections::HashSet::new();
    for (i, s) in srcs.iter().enumerate() {
        if i == 0 || s.time_nanos < out.time_nanos || out.time_nanos == 0 {
            out.time_nanos = s.time_nanos;
        }
        out.duration_nanos += s.duration_nanos;
        out.period = out.period.max(s.period);
        for c in &s.comments {
            if seen_comments.insert(c.clone()) {
                out.comments.push(c.clone());
            }
        }
        if out.default_sample_type.is_empty() {
            out.default_sample_type = s.default_sample_type.clone();
        }
        if out.doc_url.is_empty() {
            out.doc_url = s.doc_url.clone();
        }
    }
    let total_samples = srcs.iter().map(|s| s.samples.len()).sum();
    out.samples.reserve(total_samples);
    let mut m = Merger {
        out,
        mappings: HashMap::new(),
        functions: FastMap::default(),
        locations: FastMap::with_capacity_and_hasher(srcs[0].locations.len(), Default::default()),
        label_sets: HashMap::new(),
        label_ptrs: FastMap::default(),
        samples: FastMap::with_capacity_and_hasher(total_samples, Default::default()),
        sample_next: Vec::with_capacity(total_samples),
        sample_label: Vec::with_capacity(total_samples),
    };
    for mut src in srcs {
        let mut maps = SourceMaps {
            mappings: vec![None; src.mappings.len()],
            functions: vec![NONE; src.functions.len()],
            locations: vec![NONE; src.locations.len()],
        };
        if m.out.mappings.is_empty() && !src.mappings.is_empty() {
            // The first mapping is the main binary; keep it first.
            m.map_mapping(&src, &mut maps, 0);
        }
        let samples = std::mem::take(&mut src.samples);
        for s in samples {
            if !is_zero(&s) {
                m.add_sample(&src, &mut maps, s);
            }
        }
    }
    Ok(m.out)
}

impl Merger {
    fn map_mapping(&mut self, src: &Profile, maps: &mut SourceMaps, i: u32) -> (u32, i64) {
        if let Some(mi) = maps.mappings[i as usize] {
            return mi;
        }
        let sm = &src.mappings[i as usize];
        let key = MappingKey::of(sm);
        let mi = if let Some(&idx) = self.mappings.get(&key) {
            let m = &self.out.mappings[idx as usize];
            (idx, m.memory_start as i64 - sm.memory_start as i64)
        } else {
            let idx = self.out.mappings.len() as u32;
            self.out.mappings.push(sm.clone());
            self.mappings.insert(key, idx);
            (idx, 0)
        };
        maps.mappings[i as usize] = Some(mi);
        mi
    }

    fn map_function(&mut self, src: &Profile, maps: &mut SourceMaps, i: u32) -> u32 {
        let memo = maps.functions[i as usize];
        if memo != NONE {
            return memo;
        }
        let f = &src.functions[i as usize];
        let idx = match self.functions.get(f) {
            Some(&idx) => idx,
            None => {
                let idx = self.out.functions.len() as u32;
                self.out.functions.push(f.clone());
                self.functions.insert(f.clone(), idx);
                idx
            }
        };
        maps.functions[i as usize] = idx;
        idx
    }

    fn map_location(&mut self, src: &Profile, maps: &mut SourceMaps, i: u32) -> u32 {
        let memo = maps.locations[i as usize];
        if memo != NONE {
            return memo;
        }
        let sl = &src.locations[i as usize];
        let (mapping, offset) = match sl.mapping {
            Some(mi) => {
                let (idx, off) = self.map_mapping(src, maps, mi);
                (Some(idx), off)
            }
            None => (None, 0),
        };
        let address = (sl.address as i64).wrapping_add(offset) as u64;
        let lines: Vec<Line> = sl
            .lines
            .iter()
            .map(|l| Line {
                function: self.map_function(src, maps, l.function),
                ..*l
            })
            .collect();
        let key = LocationKey {
            addr: address.wrapping_sub(mapping.map_or(0, |m| self.out.mappings[m as usize].memory_start)),
            mapping,
            lines,
            is_folded: sl.is_folded,
        };
        let idx = match self.locations.get(&key) {
            Some(&idx) => idx,
            None => {
                let idx = self.out.locations.len() as u32;
                self.out.locations.push(Location {
                    mapping,
                    address,
                    lines: key.lines.clone(),
                    is_folded: sl.is_folded,
                });
                self.locations.insert(key, idx);
                idx
            }
        };
        maps.locations[i as usize] = idx;
        idx
    }

    /// A small integer naming the label set, equal for equal sets in any order.
    fn label_set_id(&mut self, labels: &Labels) -> u32 {
        if labels.is_empty() {
            return 0;
        }
        let ptr = labels.as_slice().as_ptr() as usize;
        if let Some(&(_, id)) = self.label_ptrs.get(&ptr) {
            return id;
        }
        let mut sorted = labels.as_slice().to_vec();
        // Order by key only, keeping the order of values within a key.
        sorted.sort_by(|a, b| a.key.cmp(&b.key).then(kind(&a.value).cmp(&kind(&b.value))));
        let canon = Labels::new(sorted);
        let next = self.label_sets.len() as u32 + 1;
        let id = *self.label_sets.entry(canon).or_insert(next);
        // Holding a clone keeps the allocation alive, so the address stays unique.
        self.label_ptrs.insert(ptr, (labels.clone(), id));
        id
    }

    fn add_sample(&mut self, src: &Profile, maps: &mut SourceMaps, mut s: Sample) {
        for l in s.locations.iter_mut() {
            *l = self.map_location(src, maps, *l);
        }
        let label_id = self.label_set_id(&s.labels);
        let mut h = FastHasher::default();
        s.locations.hash(&mut h);
        label_id.hash(&mut h);
        let h = h.finish();
        let mut cur = self.samples.get(&h).copied().unwrap_or(NONE);
        while cur != NONE {
            let existing = &mut self.out.samples[cur as usize];
            if self.sample_label[cur as usize] == label_id && existing.locations == s.locations {
                for (a, b) in existing.values.iter_mut().zip(&s.values) {
                    *a = a.wrapping_add(*b);
                }
                return;
            }
            cur = self.sample_next[cur as usize];
        }
        let idx = self.out.samples.len() as u32;
        let head = self.samples.insert(h, idx).unwrap_or(NONE);
        self.sample_next.push(head);
        self.sample_label.push(label_id);
        self.out.samples.push(s);
    }
}

fn kind(v: &crate::model::LabelValue) -> u8 {
    match v {
        crate::model::LabelValue::Str(_) => 0,
        crate::model::LabelValue::Num { .. } => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn profile(stacks: &[(&[&str], i64)]) -> Profile {
        let mut p = Profile {
            sample_types: vec![ValueType::new("inuse_space", "bytes")],
            period_type: Some(ValueType::new("space", "bytes")),
            ..Default::default()
        };
        for (names, v) in stacks {
            let mut locs = Vec::new();
            for n in names.iter() {
                let fi = match p.functions.iter().position(|f| &*f.name == *n) {
                    Some(i) => i,
                    None => {
                        p.functions.push(Function {
                            name: (*n).into(),
                            ..Default::default()
                        });
                        p.functions.len() - 1
                    }
                };
                p.locations.push(Location {
                    lines: vec![Line {
                        function: fi as u32,
                        line: 1,
                        column: 0,
                    }],
                    ..Default::default()
                });
                locs.push(p.locations.len() as u32 - 1);
            }
            p.samples.push(Sample {
                locations: locs,
                values: vec![*v],
                labels: Labels::default(),
            });
        }
        p
    }

    #[test]
    fn merge_sums_identical_stacks_and_compacts() {
        let a = profile(&[(&["leak", "main"], 100), (&["tmp", "main"], 5)]);
        let b = profile(&[(&["leak", "main"], 50)]);
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(m.samples.len(), 2);
        assert_eq!(m.samples[0].values, vec![150]);
        // "leak" and "main" locations are shared; "tmp" added once.
        assert_eq!(m.locations.len(), 3);
        assert_eq!(m.functions.len(), 3);
    }

    #[test]
    fn subtract_drops_cancelled_samples() {
        let new = profile(&[(&["leak", "main"], 300), (&["tmp", "main"], 5)]);
        let base = profile(&[(&["leak", "main"], 100), (&["tmp", "main"], 5)]);
        let d = new.subtract(base).unwrap();
        assert_eq!(d.samples.len(), 1);
        assert_eq!(d.samples[0].values, vec![200]);
        assert_eq!(d.functions.len(), 2, "tmp is garbage collected");
    }

    #[test]
    fn incompatible_profiles_are_refused() {
        let a = profile(&[(&["a"], 1)]);
        let mut b = profile(&[(&["a"], 1)]);
        b.sample_types = vec![ValueType::new("cpu", "nanoseconds")];
        let err = merge(vec![a, b]).unwrap_err().to_string();
        assert!(err.contains("sample types differ"), "{err}");
    }

    #[test]
    fn units_are_reconciled() {
        let mut a = profile(&[(&["a"], 2)]);
        a.sample_types = vec![ValueType::new("delay", "milliseconds")];
        a.period_type = None;
        let mut b = profile(&[(&["a"], 500_000)]);
        b.sample_types = vec![ValueType::new("delay", "nanoseconds")];
        b.period_type = None;
        let m = merge(vec![a, b]).unwrap();
        assert_eq!(&*m.sample_types[0].unit, "nanoseconds");
        assert_eq!(m.samples[0].values, vec![2_500_000]);
    }
}
