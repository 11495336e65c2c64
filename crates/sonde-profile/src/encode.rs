//! Writing profiles: the model back to `profile.proto`, gzip-compressed as pprof
//! expects on disk. Ids are written as `index + 1`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;

use crate::model::{LabelValue, Profile, ValueType};
use crate::proto;

/// Builds the string table, giving each distinct string one index; index 0 is "".
#[derive(Default)]
struct StringTable<'a> {
    index: HashMap<&'a str, i64>,
    table: Vec<Vec<u8>>,
}

impl<'a> StringTable<'a> {
    fn new() -> Self {
        let mut t = StringTable::default();
        t.add("");
        t
    }

    fn add(&mut self, s: &'a str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.as_bytes().to_vec());
        self.index.insert(s, i);
        i
    }

    fn value_type(&mut self, vt: &'a ValueType) -> proto::ValueType {
        proto::ValueType {
            r#type: self.add(&vt.ty),
            unit: self.add(&vt.unit),
        }
    }
}

impl Profile {
    /// The profile as uncompressed protobuf bytes.
    pub fn encode_uncompressed(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// Writes the profile gzip-compressed, the form pprof tools expect on disk.
    pub fn write_to(&self, w: impl Write) -> io::Result<()> {
        let mut gz = GzEncoder::new(w, Compression::default());
        gz.write_all(&self.encode_uncompressed())?;
        gz.finish()?.flush()
    }

    /// Writes the profile gzip-compressed to a file, replacing it atomically so
    /// that a reader never sees half a profile.
    pub fn write_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let file_name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a file path", path.display()),
            )
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let result = (|| {
            let f = std::fs::File::create(&tmp)?;
            let mut w = io::BufWriter::new(f);
            self.write_to(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn to_proto(&self) -> proto::Profile {
        let mut st = StringTable::new();
        let mut out = proto::Profile {
            sample_type: self.sample_types.iter().map(|t| st.value_type(t)).collect(),
            ..Default::default()
        };
        out.sample = self
            .samples
            .iter()
            .map(|s| proto::Sample {
                location_id: s.locations.iter().map(|&l| l as u64 + 1).collect(),
                value: s.values.clone(),
                label: s
                    .labels
                    .iter()
                    .map(|l| match &l.value {
                        LabelValue::Str(v) => proto::Label {
                            key: st.add(&l.key),
                            str: st.add(v),
                            ..Default::default()
                        },
                        LabelValue::Num { value, unit } => proto::Label {
                            key: st.add(&l.key),
                            num: *value,
                            num_unit: if unit.is_empty() { 0 } else { st.add(unit) },
                            ..Default::default()
                        },
                    })
                    .collect(),
            })
            .collect();
        out.mapping = self
            .mappings
            .iter()
            .enumerate()
            .map(|(i, m)| proto::Mapping {
                id: i as u64 + 1,
                memory_start: m.memory_start,
                memory_limit: m.memory_limit,
                file_offset: m.file_offset,
                filename: st.add(&m.filename),
                build_id: st.add(&m.build_id),
                has_functions: m.has_functions,
                has_filenames: m.has_filenames,
                has_line_numbers: m.has_line_numbers,
                has_inline_frames: m.has_inline_frames,
            })
            .collect();
        out.location = self
            .locations
            .iter()
            .enumerate()
            .map(|(i, l)| proto::Location {
                id: i as u64 + 1,
                mapping_id: l.mapping.map_or(0, |m| m as u64 + 1),
                address: l.address,
                line: l
                    .lines
                    .iter()
                    .map(|ln| proto::Line {
                        function_id: ln.function as u64 + 1,
                        line: ln.line,
                        column: ln.column,
                    })
                    .collect(),
                is_folded: l.is_folded,
            })
            .collect();
        out.function = self
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| proto::Function {
                id: i as u64 + 1,
                name: st.add(&f.name),
                system_name: st.add(&f.system_name),
                filename: st.add(&f.filename),
                start_line: f.start_line,
            })
            .collect();
        out.drop_frames = st.add(&self.drop_frames);
        out.keep_frames = st.add(&self.keep_frames);
        out.time_nanos = self.time_nanos;
        out.duration_nanos = self.duration_nanos;
        out.period_type = self.period_type.as_ref().map(|t| st.value_type(t));
        out.period = self.period;
        out.comment = self.comments.iter().map(|c| st.add(c)).collect();
        out.default_sample_type = st.add(&self.default_sample_type);
        out.doc_url = st.add(&self.doc_url);
        out.string_table = st.table;
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::model::*;

    fn sample_profile() -> Profile {
        Profile {
            sample_types: vec![ValueType::new("samples", "count"), ValueType::new("cpu", "nanoseconds")],
            functions: vec![
                Function {
                    name: "main".into(),
                    system_name: "main".into(),
                    filename: "main.rs".into(),
                    start_line: 1,
                },
                Function {
                    name: "work".into(),
                    system_name: "_ZN4work17h0123456789abcdefE".into(),
                    filename: "work.rs".into(),
                    start_line: 10,
                },
            ],
            mappings: vec![Mapping {
                memory_start: 0x1000,
                memory_limit: 0x2000,
                filename: "/bin/app".into(),
                build_id: "abcd".into(),
                has_functions: true,
                ..Default::default()
            }],
            locations: vec![
                Location {
                    mapping: Some(0),
                    address: 0x1010,
                    lines: vec![Line {
                        function: 0,
                        line: 3,
                        column: 0,
                    }],
                    is_folded: false,
                },
                Location {
                    mapping: Some(0),
                    address: 0x1020,
                    lines: vec![
                        Line {
                            function: 1,
                            line: 12,
                            column: 4,
                        },
                        Line {
                            function: 0,
                            line: 4,
                            column: 0,
                        },
                    ],
                    is_folded: false,
                },
            ],
            samples: vec![
                Sample {
                    locations: vec![1, 0],
                    values: vec![3, 30_000_000],
                    labels: Labels::new(vec![Label::str("thread", "w1"), Label::num("bytes", 64, "bytes")]),
                },
                Sample {
                    locations: vec![0],
                    values: vec![1, 10_000_000],
                    labels: Labels::default(),
                },
            ],
            comments: vec!["hello".into()],
            period_type: Some(ValueType::new("cpu", "nanoseconds")),
            period: 10_000_000,
            time_nanos: 1_700_000_000_000_000_000,
            duration_nanos: 1_000_000_000,
            default_sample_type: "cpu".into(),
            drop_frames: "".into(),
            keep_frames: "".into(),
            doc_url: "".into(),
        }
    }

    #[test]
    fn round_trip_gzip_and_raw() {
        let p = sample_profile();
        let raw = p.encode_uncompressed();
        assert_eq!(Profile::parse(&raw).unwrap(), p);
        let mut gz = Vec::new();
        p.write_to(&mut gz).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(Profile::parse(&gz).unwrap(), p);
    }

    #[test]
    fn truncated_gzip_is_reported() {
        let mut gz = Vec::new();
        sample_profile().write_to(&mut gz).unwrap();
        gz.truncate(gz.len() - 10);
        let err = Profile::parse(&gz).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
