//! The store's index: one JSON object per line in `index.jsonl`, appended as
//! profiles are written (`{"file":…,"kind":…}`) and removed (`{"removed":…}`),
//! so that listing a store reads one small file instead of decoding every
//! profile. A line cut short by a crash is the last one; readers skip it and
//! the next writer repairs it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::model::Profile;

/// One profile in a store, as its index line describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The file's name inside the store's directory (`heap_20261130_150405.pb.gz`).
    pub file: String,
    /// The profile's kind (`cpu`, `heap`, `allocs`, `goroutine`, `tasks`,
    /// `mutex`, `block`, `wall`, or any name the writer chose).
    pub kind: String,
    /// When the profile's period began, ns since the Unix epoch (equal to
    /// `end_nanos` for a snapshot).
    pub start_nanos: i64,
    /// When it ended (when a snapshot was taken), ns since the Unix epoch.
    pub end_nanos: i64,
    /// Whether the profile shows one moment (`heap`'s memory in use, the
    /// threads or tasks alive) rather than what happened during its period (a
    /// CPU window, a delta of `allocs`, `mutex` or `block`). A window of
    /// snapshots is read as its last one; a window of periods as their sum.
    pub snapshot: bool,
    /// The file's size in bytes (gzip-compressed).
    pub bytes: u64,
    /// The labels it was written with (service, version, host, user tags).
    pub labels: BTreeMap<String, String>,
    /// Each sample type's name and unit with the sum of its values, in the
    /// profile's order (`inuse_space`, `bytes`, 10485760).
    pub totals: Vec<(String, String, i64)>,
}

impl Entry {
    /// The entry a profile written to `file` gets.
    pub(super) fn describe(
        file: String,
        kind: &str,
        p: &Profile,
        snapshot: bool,
        bytes: u64,
        labels: &BTreeMap<String, String>,
    ) -> Entry {
        let mut sums = vec![0i64; p.sample_types.len()];
        for s in &p.samples {
            for (sum, v) in sums.iter_mut().zip(&s.values) {
                *sum = sum.saturating_add(*v);
            }
        }
        let end = p.time_nanos.saturating_add(p.duration_nanos.max(0));
        Entry {
            file,
            kind: kind.to_string(),
            start_nanos: p.time_nanos,
            end_nanos: end,
            snapshot,
            bytes,
            labels: labels.clone(),
            totals: p
                .sample_types
                .iter()
                .zip(sums)
                .map(|(t, sum)| (t.ty.to_string(), t.unit.to_string(), sum))
                .collect(),
        }
    }

    /// The sum of the values of the sample type named `ty`, if the profile has it.
    pub fn total(&self, ty: &str) -> Option<i64> {
        self.totals.iter().find(|t| t.0 == ty).map(|t| t.2)
    }

    /// The entry as its index line (without the newline).
    pub(super) fn to_line(&self) -> String {
        let totals: Vec<Value> = self.totals.iter().map(|(t, u, v)| json!([t, u, v])).collect();
        json!({
            "file": self.file,
            "kind": self.kind,
            "start": self.start_nanos,
            "end": self.end_nanos,
            "snapshot": self.snapshot,
            "bytes": self.bytes,
            "labels": self.labels,
            "totals": totals,
        })
        .to_string()
    }
}

/// What one index line says.
#[derive(Debug)]
pub(super) enum Line {
    /// A profile was written.
    Added(Entry),
    /// The profile in this file was removed (retention).
    Removed(String),
}

/// The line written when `file` is removed.
pub(super) fn removed_line(file: &str) -> String {
    json!({ "removed": file }).to_string()
}

/// Reads one index line; `None` when it is not one (cut short by a crash, or
/// written by something else).
pub(super) fn parse_line(line: &str) -> Option<Line> {
    let v: Map<String, Value> = serde_json::from_str(line).ok()?;
    if let Some(file) = v.get("removed") {
        return Some(Line::Removed(file.as_str()?.to_string()));
    }
    let str_of = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
    let int_of = |k: &str| v.get(k).and_then(Value::as_i64);
    let labels = match v.get("labels") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect::<Option<BTreeMap<_, _>>>()?,
        _ => BTreeMap::new(),
    };
    let totals = match v.get("totals") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                let t = t.as_array()?;
                Some((
                    t.first()?.as_str()?.to_string(),
                    t.get(1)?.as_str()?.to_string(),
                    t.get(2)?.as_i64()?,
                ))
            })
            .collect::<Option<Vec<_>>>()?,
        _ => Vec::new(),
    };
    let file = str_of("file")?;
    if !is_profile_name(&file) {
        return None;
    }
    Some(Line::Added(Entry {
        file,
        kind: str_of("kind")?,
        start_nanos: int_of("start")?,
        end_nanos: int_of("end")?,
        snapshot: v.get("snapshot").and_then(Value::as_bool).unwrap_or(false),
        bytes: v.get("bytes").and_then(Value::as_u64).unwrap_or(0),
        labels,
        totals,
    }))
}

/// Whether `name` can be a profile of a store: a plain file name ending in
/// `.pb.gz`, not hidden (temporary files start with a dot).
pub(super) fn is_profile_name(name: &str) -> bool {
    name.ends_with(".pb.gz") && !name.starts_with('.') && !name.contains('/') && !name.contains('\\')
}

/// The entries an index's text lists, and how many of its lines could not be
/// read (a last line cut short by a crash counts too). Lines apply in order: a
/// removal drops the file's entry written before it, and a file written
/// again after its removal (retention freed its name) is listed; a file
/// written twice counts once, as its last line says.
pub(super) fn read(text: &str) -> (Vec<Entry>, usize) {
    let mut entries: Vec<Option<Entry>> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let torn = !text.is_empty() && !text.ends_with('\n');
    let mut bad = usize::from(torn);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        match parse_line(line) {
            Some(Line::Added(e)) => {
                if let Some(old) = at.insert(e.file.clone(), entries.len()) {
                    entries[old] = None;
                }
                entries.push(Some(e));
            }
            Some(Line::Removed(f)) => {
                if let Some(old) = at.remove(&f) {
                    entries[old] = None;
                }
            }
            // The torn last line is counted above already.
            None if i + 1 == lines.len() && torn => {}
            None => bad += 1,
        }
    }
    (entries.into_iter().flatten().collect(), bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(file: &str) -> Entry {
        Entry {
            file: file.into(),
            kind: "heap".into(),
            start_nanos: 5,
            end_nanos: 5,
            snapshot: true,
            bytes: 10,
            labels: BTreeMap::from([("service_name".to_string(), "svc \"x\"".to_string())]),
            totals: vec![("inuse_space".into(), "bytes".into(), -3)],
        }
    }

    #[test]
    fn lines_round_trip() {
        let e = entry("heap_20261130_150405.pb.gz");
        match parse_line(&e.to_line()) {
            Some(Line::Added(back)) => assert_eq!(back, e),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_line(&removed_line("a.pb.gz")), Some(Line::Removed(f)) if f == "a.pb.gz"));
    }

    #[test]
    fn a_torn_last_line_and_foreign_lines_are_skipped_and_flagged() {
        let a = entry("a.pb.gz").to_line();
        let b = entry("b.pb.gz").to_line();
        let text = format!("{a}\n{b}\n{}", &a[..a.len() / 2]);
        let (entries, bad) = read(&text);
        assert_eq!(entries.len(), 2);
        assert_eq!(bad, 1);
        let (entries, bad) = read(&format!("{a}\n{}\n{b}\n", removed_line("a.pb.gz")));
        assert_eq!(entries.iter().map(|e| e.file.as_str()).collect::<Vec<_>>(), ["b.pb.gz"]);
        assert_eq!(bad, 0);
        let (_, bad) = read(&format!("{a}\nnot json\n\u{1}junk\n"));
        assert_eq!(bad, 2);
        // Removed, then written again under the same name: listed.
        let (entries, _) = read(&format!("{a}\n{}\n{a}\n", removed_line("a.pb.gz")));
        assert_eq!(entries.len(), 1);
        // A file name that would leave the directory is not an entry.
        let evil = entry("../../etc/passwd.pb.gz").to_line();
        assert!(parse_line(&evil).is_none());
    }
}
