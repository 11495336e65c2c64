//! The in-memory profile: pprof's `profile.proto` with ids resolved to indexes and
//! strings resolved from the string table.
//!
//! Every cross reference is an index into one of the profile's tables: a
//! [`Sample`] lists indexes into [`Profile::locations`], a [`Line`] names an index
//! into [`Profile::functions`], a [`Location`] an optional index into
//! [`Profile::mappings`]. When a profile is written, ids are `index + 1`.

use std::fmt;
use std::sync::Arc;

/// A shared, immutable string. Profiles repeat the same few strings (function
/// names, label keys) many times; sharing them keeps large profiles small.
pub type Str = Arc<str>;

/// Returns the shared empty string.
pub fn empty_str() -> Str {
    Str::from("")
}

/// A performance profile in pprof's data model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// What each value of a sample measures, e.g. `samples/count`, `cpu/nanoseconds`.
    pub sample_types: Vec<ValueType>,
    /// The sample type reports show when none is chosen (`""` means the last one).
    pub default_sample_type: Str,
    /// The measurements, one per distinct stack and label set.
    pub samples: Vec<Sample>,
    /// Address ranges of the binaries the profiled program had loaded; the first
    /// is the main binary by convention.
    pub mappings: Vec<Mapping>,
    /// Program counters, each with the source lines (inlined frames) it stands for.
    pub locations: Vec<Location>,
    /// Functions referenced by the locations' lines.
    pub functions: Vec<Function>,
    /// Free-form notes about the profile.
    pub comments: Vec<Str>,
    /// A regular expression of frames to drop, with everything they called.
    pub drop_frames: Str,
    /// A regular expression of frames to keep even when `drop_frames` matches them.
    pub keep_frames: Str,
    /// When the profile was collected, in nanoseconds since the Unix epoch (0 if unknown).
    pub time_nanos: i64,
    /// How long collection lasted, in nanoseconds (0 if unknown).
    pub duration_nanos: i64,
    /// What one sampling period measures, e.g. `cpu/nanoseconds`.
    pub period_type: Option<ValueType>,
    /// The sampling period, in units of `period_type`.
    pub period: i64,
    /// A documentation link shown by viewers for this profile kind.
    pub doc_url: Str,
}

/// The kind and unit of one measured value, e.g. `alloc_space` in `bytes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueType {
    /// What is measured, e.g. `cpu`, `inuse_space`, `contentions`.
    pub ty: Str,
    /// The unit, e.g. `nanoseconds`, `bytes`, `count`.
    pub unit: Str,
}

impl ValueType {
    /// A value type with the given kind and unit.
    pub fn new(ty: &str, unit: &str) -> Self {
        ValueType {
            ty: Str::from(ty),
            unit: Str::from(unit),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ty, self.unit)
    }
}

/// One measurement: a call stack, its values and its labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Indexes into [`Profile::locations`], leaf (innermost call) first.
    pub locations: Vec<u32>,
    /// One value per [`Profile::sample_types`] entry, in the same order.
    pub values: Vec<i64>,
    /// Key/value annotations, such as a thread name or an allocation size.
    pub labels: Labels,
}

/// The value of a label: a string, or a number with an optional unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LabelValue {
    /// A string label, e.g. `thread = "worker-1"`.
    Str(Str),
    /// A numeric label, e.g. `bytes = 1024` with unit `bytes`.
    Num {
        /// The number.
        value: i64,
        /// Its unit; empty when the profile gave none.
        unit: Str,
    },
}

/// One key/value annotation of a sample.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    /// The label's name. Keys starting with `pprof::` are reserved.
    pub key: Str,
    /// The label's value.
    pub value: LabelValue,
}

impl Label {
    /// A string label.
    pub fn str(key: &str, value: &str) -> Self {
        Label {
            key: Str::from(key),
            value: LabelValue::Str(Str::from(value)),
        }
    }

    /// A numeric label with a unit (empty for none).
    pub fn num(key: &str, value: i64, unit: &str) -> Self {
        Label {
            key: Str::from(key),
            value: LabelValue::Num {
                value,
                unit: Str::from(unit),
            },
        }
    }
}

/// The labels of a sample. Samples of one profile share few distinct label sets,
/// so identical sets are stored once and shared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(Option<Arc<[Label]>>);

impl Labels {
    /// A label set holding `labels` in the given order.
    pub fn new(labels: Vec<Label>) -> Self {
        if labels.is_empty() {
            Labels(None)
        } else {
            Labels(Some(Arc::from(labels)))
        }
    }

    /// The labels, in the order they were given.
    pub fn as_slice(&self) -> &[Label] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// Iterates over the labels.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.as_slice().iter()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The string values of `key`, in order.
    pub fn strs<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Str> + 'a {
        self.iter().filter_map(move |l| match &l.value {
            LabelValue::Str(s) if &*l.key == key => Some(s),
            _ => None,
        })
    }

    /// The numeric values of `key` with their units, in order.
    pub fn nums<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (i64, &'a Str)> + 'a {
        self.iter().filter_map(move |l| match &l.value {
            LabelValue::Num { value, unit } if &*l.key == key => Some((*value, unit)),
            _ => None,
        })
    }

    /// Whether a string label `key` has the value `value`.
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.strs(key).any(|v| &**v == value)
    }

    /// The same set without the labels for which `drop` returns true.
    pub fn without(&self, mut drop: impl FnMut(&Label) -> bool) -> Labels {
        if !self.iter().any(&mut drop) {
            return self.clone();
        }
        Labels::new(self.iter().filter(|l| !drop(l)).cloned().collect())
    }

    /// The same set with `label` added at the end.
    pub fn with(&self, label: Label) -> Labels {
        let mut v = self.as_slice().to_vec();
        v.push(label);
        Labels::new(v)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A loaded binary or shared library: where it was mapped and what it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// First address of the mapping.
    pub memory_start: u64,
    /// One past the last address of the mapping.
    pub memory_limit: u64,
    /// Offset in the file that `memory_start` maps.
    pub file_offset: u64,
    /// Path of the mapped file, or a pseudo name such as `[vdso]`.
    pub filename: Str,
    /// Build id of the file (hex), used to find the same binary later.
    pub build_id: Str,
    /// Whether function names were resolved for this mapping's locations.
    pub has_functions: bool,
    /// Whether file names were resolved.
    pub has_filenames: bool,
    /// Whether line numbers were resolved.
    pub has_line_numbers: bool,
    /// Whether inlined frames were expanded.
    pub has_inline_frames: bool,
}

/// A program counter with the source positions it corresponds to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Location {
    /// Index into [`Profile::mappings`], if known.
    pub mapping: Option<u32>,
    /// The instruction address (0 if unknown or aggregated away).
    pub address: u64,
    /// The source lines: with inlining, innermost first and the caller last.
    pub lines: Vec<Line>,
    /// Whether several addresses were folded into this one.
    pub is_folded: bool,
}

/// A source position inside a location.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Line {
    /// Index into [`Profile::functions`].
    pub function: u32,
    /// Line number in the function's file (0 if unknown).
    pub line: i64,
    /// Column number (0 if unknown).
    pub column: i64,
}

/// A function, as named in reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Function {
    /// Human-readable (demangled) name.
    pub name: Str,
    /// Name as the linker knows it (mangled), if different.
    pub system_name: Str,
    /// Source file path.
    pub filename: Str,
    /// First line of the function in its file (0 if unknown).
    pub start_line: i64,
}

impl Profile {
    /// A copy that shares no allocation with `self`: every string and label set
    /// is allocated anew (label sets shared within `self` stay shared within
    /// the copy). For a profiler that builds a profile in its own memory and
    /// hands the program a profile in the program's (sonde's runtime does).
    pub fn detached(&self) -> Profile {
        let s = |x: &Str| Str::from(&**x);
        let vt = |t: &ValueType| ValueType {
            ty: s(&t.ty),
            unit: s(&t.unit),
        };
        let mut label_sets: std::collections::HashMap<*const Label, Labels> = std::collections::HashMap::new();
        let samples = self
            .samples
            .iter()
            .map(|smp| Sample {
                locations: smp.locations.clone(),
                values: smp.values.clone(),
                labels: match &smp.labels.0 {
                    None => Labels(None),
                    Some(set) => label_sets
                        .entry(set.as_ptr())
                        .or_insert_with(|| {
                            Labels::new(
                                set.iter()
                                    .map(|l| Label {
                                        key: s(&l.key),
                                        value: match &l.value {
                                            LabelValue::Str(v) => LabelValue::Str(s(v)),
                                            LabelValue::Num { value, unit } => LabelValue::Num {
                                                value: *value,
                                                unit: s(unit),
                                            },
                                        },
                                    })
                                    .collect(),
                            )
                        })
                        .clone(),
                },
            })
            .collect();
        Profile {
            sample_types: self.sample_types.iter().map(vt).collect(),
            default_sample_type: s(&self.default_sample_type),
            samples,
            mappings: self
                .mappings
                .iter()
                .map(|m| Mapping {
                    filename: s(&m.filename),
                    build_id: s(&m.build_id),
                    ..m.clone()
                })
                .collect(),
            locations: self.locations.clone(),
            functions: self
                .functions
                .iter()
                .map(|f| Function {
                    name: s(&f.name),
                    system_name: s(&f.system_name),
                    filename: s(&f.filename),
                    start_line: f.start_line,
                })
                .collect(),
            comments: self.comments.iter().map(s).collect(),
            drop_frames: s(&self.drop_frames),
            keep_frames: s(&self.keep_frames),
            time_nanos: self.time_nanos,
            duration_nanos: self.duration_nanos,
            period_type: self.period_type.as_ref().map(vt),
            period: self.period,
            doc_url: s(&self.doc_url),
        }
    }

    /// The index of the sample type a report uses when given `name`.
    ///
    /// `None` picks the default the way pprof does: `default_sample_type` if set,
    /// else the last type. A name may be a type (`alloc_space`), a legacy alias
    /// (`inuse_space` for `space`), or a number.
    pub fn sample_index(&self, name: Option<&str>) -> Result<usize, crate::Error> {
        if self.sample_types.is_empty() {
            return Err(crate::Error::NoSampleTypes);
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            if !self.default_sample_type.is_empty() {
                if let Some(i) = self.sample_types.iter().position(|t| t.ty == self.default_sample_type) {
                    return Ok(i);
                }
            }
            return Ok(self.sample_types.len() - 1);
        };
        if let Ok(i) = name.parse::<i64>() {
            return usize::try_from(i)
                .ok()
                .filter(|&i| i < self.sample_types.len())
                .ok_or_else(|| crate::Error::SampleIndexOutOfRange {
                    index: i,
                    valid: self.sample_type_names(),
                });
        }
        let no_inuse = name.strip_prefix("inuse_").unwrap_or(name);
        self.sample_types
            .iter()
            .position(|t| &*t.ty == name || &*t.ty == no_inuse)
            .ok_or_else(|| crate::Error::UnknownSampleType {
                given: name.to_string(),
                valid: self.sample_type_names(),
            })
    }

    /// Checks that every index points into its table and every sample has one
    /// value per sample type. Profiles read from bytes always pass; profiles built
    /// in code should be checked before reports are made from them.
    pub fn check_valid(&self) -> Result<(), crate::Error> {
        let bad = |msg: String| Err(crate::Error::Invalid(msg));
        for (i, s) in self.samples.iter().enumerate() {
            if s.values.len() != self.sample_types.len() {
                return bad(format!(
                    "sample #{} has {} values but the profile declares {} sample types",
                    i + 1,
                    s.values.len(),
                    self.sample_types.len()
                ));
            }
            if let Some(&l) = s.locations.iter().find(|&&l| l as usize >= self.locations.len()) {
                return bad(format!(
                    "sample #{} refers to location index {l} of {}",
                    i + 1,
                    self.locations.len()
                ));
            }
        }
        for (i, l) in self.locations.iter().enumerate() {
            if let Some(m) = l.mapping.filter(|&m| m as usize >= self.mappings.len()) {
                return bad(format!(
                    "location #{} refers to mapping index {m} of {}",
                    i + 1,
                    self.mappings.len()
                ));
            }
            if let Some(line) = l
                .lines
                .iter()
                .find(|line| line.function as usize >= self.functions.len())
            {
                return bad(format!(
                    "location #{} refers to function index {} of {}",
                    i + 1,
                    line.function,
                    self.functions.len()
                ));
            }
        }
        Ok(())
    }

    /// The names of the sample types, in order.
    pub fn sample_type_names(&self) -> Vec<String> {
        self.sample_types.iter().map(|t| t.ty.to_string()).collect()
    }

    /// Multiplies every value by `ratio` (rounding to the nearest integer) and drops
    /// samples whose values all become zero. A ratio of -1 turns a profile into a
    /// base to subtract.
    pub fn scale(&mut self, ratio: f64) {
        let ratios = vec![ratio; self.sample_types.len()];
        self.scale_each(&ratios);
    }

    /// Multiplies each value type by its own ratio, as [`Profile::scale`] does.
    pub fn scale_each(&mut self, ratios: &[f64]) {
        if ratios.iter().all(|&r| r == 1.0) {
            return;
        }
        self.samples.retain_mut(|s| {
            let mut keep = false;
            for (v, &r) in s.values.iter_mut().zip(ratios) {
                if r != 1.0 {
                    *v = (*v as f64 * r).round() as i64;
                }
                // As pprof's ScaleN: a sample goes only when every value is zero.
                keep |= *v != 0;
            }
            keep
        });
    }

    /// Sets string label `key` to `value` on every sample, replacing older values.
    pub fn set_label(&mut self, key: &str, value: &str) {
        let label = Label::str(key, value);
        for s in &mut self.samples {
            s.labels = s.labels.without(|l| &*l.key == key).with(label.clone());
        }
    }

    /// Removes every label named `key`.
    pub fn remove_label(&mut self, key: &str) {
        for s in &mut self.samples {
            s.labels = s.labels.without(|l| &*l.key == key);
        }
    }

    /// The name of the main binary (the first mapping's file name, without
    /// directories), if known.
    pub fn main_binary(&self) -> Option<&str> {
        let m = self.mappings.first()?;
        if m.filename.is_empty() {
            return None;
        }
        Some(base_name(&m.filename))
    }
}

/// The last component of a `/`-separated path.
pub fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_some_values_to_zero_keeps_samples_with_others() {
        let mut p = Profile {
            sample_types: vec![
                ValueType::new("alloc_space", "bytes"),
                ValueType::new("inuse_space", "bytes"),
            ],
            ..Default::default()
        };
        p.samples.push(Sample {
            values: vec![5, 7],
            ..Default::default()
        });
        p.samples.push(Sample {
            values: vec![0, 7],
            ..Default::default()
        });
        p.scale_each(&[1.0, 0.0]);
        // As pprof's ScaleN: only a sample whose every value is zero goes.
        assert_eq!(
            p.samples.iter().map(|s| s.values.clone()).collect::<Vec<_>>(),
            [vec![5, 0]]
        );
    }

    #[test]
    fn a_detached_copy_is_equal_and_shares_nothing() {
        let mut p = Profile::default();
        p.sample_types.push(ValueType::new("cpu", "nanoseconds"));
        p.functions.push(Function {
            name: "main".into(),
            filename: "main.rs".into(),
            ..Default::default()
        });
        p.mappings.push(Mapping {
            filename: "/bin/app".into(),
            build_id: "ab".into(),
            ..Default::default()
        });
        let labels = Labels::new(vec![Label::str("thread", "w"), Label::num("thread_id", 7, "")]);
        for v in [1, 2] {
            p.samples.push(Sample {
                locations: vec![],
                values: vec![v],
                labels: labels.clone(),
            });
        }
        p.comments.push("note".into());
        let d = p.detached();
        assert_eq!(d, p);
        assert!(!Arc::ptr_eq(&d.functions[0].name, &p.functions[0].name));
        assert!(!Arc::ptr_eq(&d.mappings[0].filename, &p.mappings[0].filename));
        assert!(!Arc::ptr_eq(&d.comments[0], &p.comments[0]));
        let (a, b) = (d.samples[0].labels.0.as_ref().unwrap(), labels.0.as_ref().unwrap());
        assert!(!Arc::ptr_eq(a, b));
        assert!(
            Arc::ptr_eq(a, d.samples[1].labels.0.as_ref().unwrap()),
            "a shared set stays shared in the copy"
        );
        assert!(!Arc::ptr_eq(&a[0].key, &b[0].key));
    }
}
