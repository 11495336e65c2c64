//! Reading profiles: gzip detection with a bound on the decompressed size, protobuf
//! decoding with byte offsets in errors, resolution of ids and string indexes into
//! the [`Profile`] model, and validation of pprof's invariants.

use std::io::{self, Read};

use crate::hash::FastMap;
use crate::model::{Function, Labels, Line, Location, Mapping, Profile, Sample, Str, ValueType};
use crate::wire::{FIELD_NAMES, IdMap, Strings, decode_sample, resolve_labels, scan_fields, sub};
use crate::{Error, Result, proto};
use flate2::read::MultiGzDecoder;

/// The default bound on a decompressed profile: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// How to read a profile.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// The largest uncompressed protobuf accepted, in bytes. Larger inputs (or gzip
    /// streams that expand beyond it) are refused with [`Error::TooLarge`].
    pub max_size: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

impl Profile {
    /// Parses a profile from bytes, gzip-compressed or not, with default options.
    pub fn parse(data: &[u8]) -> Result<Profile> {
        Self::parse_with(data, &ReadOptions::default())
    }

    /// Parses a profile from bytes, gzip-compressed or not.
    pub fn parse_with(data: &[u8], opts: &ReadOptions) -> Result<Profile> {
        if data.is_empty() {
            return Err(Error::Empty);
        }
        if is_gzip(data) {
            let raw = gunzip(data, opts.max_size)?;
            decode_uncompressed(&raw)
        } else {
            if data.len() as u64 > opts.max_size {
                return Err(Error::TooLarge { limit: opts.max_size });
            }
            decode_uncompressed(data)
        }
    }

    /// Reads a whole profile from `r`, gzip-compressed or not.
    pub fn read_from(r: impl Read, opts: &ReadOptions) -> Result<Profile> {
        let mut data = Vec::new();
        // A compressed input can be at most as large as what it decompresses to,
        // give or take gzip's framing, so the same bound applies to the input.
        r.take(opts.max_size.saturating_add(1 << 20)).read_to_end(&mut data)?;
        Self::parse_with(&data, opts)
    }
}

/// Whether `data` starts with the gzip magic number.
pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// A reader that counts the bytes taken from the underlying slice.
struct Counting<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Decompresses all gzip members of `data`, refusing to produce more than `max` bytes.
fn gunzip(data: &[u8], max: u64) -> Result<Vec<u8>> {
    let mut dec = MultiGzDecoder::new(Counting { data, pos: 0 });
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(max as usize));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match dec.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if (out.len() + n) as u64 > max {
                    return Err(Error::TooLarge { limit: max });
                }
                out.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let message = if e.kind() == io::ErrorKind::UnexpectedEof {
                    "the stream ends before its end marker (the file is truncated)".to_string()
                } else {
                    e.to_string()
                };
                return Err(Error::Gzip {
                    offset: dec.get_ref().pos as u64,
                    decompressed: out.len() as u64,
                    message,
                });
            }
        }
    }
    Ok(out)
}

/// Decodes an uncompressed protobuf or, as pprof does when that fails, one of
/// the legacy formats; names what the input looks like when it is neither.
fn decode_uncompressed(data: &[u8]) -> Result<Profile> {
    if data.is_empty() {
        return Err(Error::Empty);
    }
    let e = match decode_proto(data) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    // Two protobuf profiles in one file are refused as such (pprof's
    // errConcatProfile), not tried as a legacy format.
    if matches!(&e, Error::Invalid(m) if m.starts_with("concatenated profiles")) {
        return Err(e);
    }
    if let Some(p) = crate::legacy::parse(data)? {
        return Ok(p);
    }
    Err(match e {
        Error::Decode { .. } => match legacy_format(data) {
            Some(format) => Error::Legacy { format },
            None => text_kind(data).unwrap_or(e),
        },
        e => e,
    })
}

/// Names the legacy format an input looks like, for one that no legacy
/// parser read.
fn legacy_format(data: &[u8]) -> Option<&'static str> {
    let words_le = |i: usize, w: usize| -> Option<u64> {
        let b = data.get(i * w..(i + 1) * w)?;
        Some(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    let words_be = |i: usize, w: usize| -> Option<u64> {
        let b = data.get(i * w..(i + 1) * w)?;
        Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    for w in [4usize, 8] {
        for word in [&words_le as &dyn Fn(usize, usize) -> Option<u64>, &words_be] {
            if word(0, w) == Some(0) && word(1, w) == Some(3) {
                return Some("binary CPU (gperftools or Java)");
            }
        }
    }
    let head = &data[..data.len().min(256)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    let formats: [(&str, &'static str); 12] = [
        ("heap profile:", "heap (text)"),
        ("heap_v2/", "jemalloc heap_v2 (text)"),
        ("--- heapz", "heapz (text)"),
        ("--- heap", "heap (text)"),
        ("--- contention", "contention (text)"),
        ("--- mutex", "contention (text)"),
        ("--- threadz", "thread (text)"),
        ("--- thread", "thread (text)"),
        ("goroutine profile:", "Go goroutine (debug=1 text)"),
        ("threadcreate profile:", "Go threadcreate (debug=1 text)"),
        ("goroutine ", "Go goroutine dump (debug=2 text)"),
        ("--- ", "legacy text"),
    ];
    formats
        .iter()
        .find(|(prefix, _)| text.starts_with(prefix))
        .map(|&(_, name)| name)
}

/// Names a text input that is not a profile: what it looks like and its first line.
fn text_kind(data: &[u8]) -> Option<Error> {
    let head = &data[..data.len().min(1024)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut by the 1024-byte window.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return None;
    }
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let folded = |l: &str| {
        l.rsplit_once(' ')
            .is_some_and(|(stack, n)| !stack.is_empty() && n.parse::<i64>().is_ok())
    };
    let what = if ["goos:", "goarch:", "pkg:", "cpu:", "Benchmark"]
        .iter()
        .any(|p| first.starts_with(p))
    {
        "Go benchmark results (compare them with `sonde benchstat old.txt new.txt`)"
    } else if first.starts_with("<svg") || first.starts_with("<?xml") {
        "an SVG or XML file"
    } else if first.to_ascii_lowercase().starts_with("<!doctype html") || first.starts_with("<html") {
        "an HTML page"
    } else if first.starts_with('{') || first.starts_with('[') {
        "JSON"
    } else if folded(first) && first.contains(';') {
        "folded stacks (for flame graph tools such as inferno)"
    } else {
        "a text file"
    };
    let mut first_line: String = first.chars().take(60).collect();
    if first_line.len() < first.len() {
        first_line.push('…');
    }
    Some(Error::Text { what, first_line })
}

fn decode_proto(buf: &[u8]) -> Result<Profile> {
    let f = scan_fields(buf)?;
    let strings = Strings(
        f.strings
            .iter()
            .map(|&(s, e)| Str::from(String::from_utf8_lossy(&buf[s..e])))
            .collect(),
    );
    if let Some(first) = strings.0.first().filter(|s| !s.is_empty()) {
        return Err(Error::Invalid(format!(
            "string_table[0] must be the empty string (pprof's rule), but it is {first:?}"
        )));
    }
    let value_type = |range, what: &dyn Fn() -> String| -> Result<ValueType> {
        let vt: proto::ValueType = sub(buf, range, what)?;
        Ok(ValueType {
            ty: strings.get(vt.r#type, || format!("{} type", what()))?,
            unit: strings.get(vt.unit, || format!("{} unit", what()))?,
        })
    };

    let mut p = Profile::default();
    for (i, &r) in f.sample_type.iter().enumerate() {
        p.sample_types
            .push(value_type(r, &|| format!("sample type #{}", i + 1))?);
    }
    if let Some(r) = f.period_type {
        p.period_type = Some(value_type(r, &|| "period type".to_string())?);
    }
    let scalar_str = |field: usize| strings.get(f.scalars[field].0, || FIELD_NAMES[field].to_string());
    p.drop_frames = scalar_str(7)?;
    p.keep_frames = scalar_str(8)?;
    p.time_nanos = f.scalars[9].0;
    p.duration_nanos = f.scalars[10].0;
    p.period = f.scalars[12].0;
    p.default_sample_type = scalar_str(14)?;
    p.doc_url = scalar_str(15)?;
    for (i, &(idx, _)) in f.comment.iter().enumerate() {
        p.comments.push(strings.get(idx, || format!("comment #{}", i + 1))?);
    }

    // Mappings.
    let mut mapping_ids = Vec::with_capacity(f.mapping.len());
    for (i, &r) in f.mapping.iter().enumerate() {
        let m: proto::Mapping = sub(buf, r, || format!("mapping #{}", i + 1))?;
        mapping_ids.push(m.id);
        p.mappings.push(Mapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: strings.get(m.filename, || format!("mapping id {} filename", m.id))?,
            build_id: strings.get(m.build_id, || format!("mapping id {} build id", m.id))?,
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        });
    }
    let mapping_map = IdMap::new(mapping_ids.iter().copied(), "mapping")?;
    drop(mapping_ids);

    // Functions.
    let mut function_ids = Vec::with_capacity(f.function.len());
    for (i, &r) in f.function.iter().enumerate() {
        let fun: proto::Function = sub(buf, r, || format!("function #{}", i + 1))?;
        function_ids.push(fun.id);
        p.functions.push(Function {
            name: strings.get(fun.name, || format!("function id {} name", fun.id))?,
            system_name: strings.get(fun.system_name, || format!("function id {} system name", fun.id))?,
            filename: strings.get(fun.filename, || format!("function id {} filename", fun.id))?,
            start_line: fun.start_line,
        });
    }
    let function_map = IdMap::new(function_ids.iter().copied(), "function")?;
    drop(function_ids);

    // Locations.
    let mut location_ids = Vec::with_capacity(f.location.len());
    for (i, &r) in f.location.iter().enumerate() {
        let loc: proto::Location = sub(buf, r, || format!("location #{}", i + 1))?;
        location_ids.push(loc.id);
        let mut lines = Vec::with_capacity(loc.line.len());
        for (j, l) in loc.line.iter().enumerate() {
            let function = function_map.get(l.function_id).ok_or_else(|| {
                Error::Invalid(format!(
                    "location id {} line #{} refers to function id {}, which the profile does not define",
                    loc.id,
                    j + 1,
                    l.function_id
                ))
            })?;
            lines.push(Line {
                function,
                line: l.line,
                column: l.column,
            });
        }
        p.locations.push(Location {
            // Like pprof, a mapping id that resolves to nothing means "no mapping".
            mapping: if loc.mapping_id == 0 {
                None
            } else {
                mapping_map.get(loc.mapping_id)
            },
            address: loc.address,
            lines,
            is_folded: loc.is_folded,
        });
    }
    let location_map = IdMap::new(location_ids.iter().copied(), "location")?;
    drop(location_ids);

    // Samples.
    let ntypes = p.sample_types.len();
    if ntypes == 0 && !f.sample.is_empty() {
        return Err(Error::Invalid(format!(
            "the profile has {} samples but declares no sample types",
            f.sample.len()
        )));
    }
    let mut label_sets: FastMap<Vec<proto::Label>, Labels> = FastMap::default();
    let mut raw_labels: Vec<proto::Label> = Vec::new();
    p.samples.reserve_exact(f.sample.len());
    for (i, &(start, end)) in f.sample.iter().enumerate() {
        let mut locations = Vec::new();
        let mut values = Vec::with_capacity(ntypes);
        raw_labels.clear();
        decode_sample(
            buf,
            start,
            end,
            &mut locations,
            &mut values,
            &mut raw_labels,
            &location_map,
            i,
        )?;
        if values.len() != ntypes {
            return Err(Error::Invalid(format!(
                "sample #{} has {} values but the profile declares {} sample types ({})",
                i + 1,
                values.len(),
                ntypes,
                p.sample_types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let labels = if raw_labels.is_empty() {
            Labels::default()
        } else if let Some(l) = label_sets.get(raw_labels.as_slice()) {
            l.clone()
        } else {
            let labels = resolve_labels(&raw_labels, &strings, i)?;
            label_sets.insert(raw_labels.clone(), labels.clone());
            labels
        };
        p.samples.push(Sample {
            locations,
            values,
            labels,
        });
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_named() {
        assert!(matches!(Profile::parse(&[]), Err(Error::Empty)));
    }

    #[test]
    fn truncated_varint_reports_offset() {
        // Field 9 (time_nanos), varint with the continuation bit set and nothing after.
        let err = Profile::parse(&[0x48, 0x80]).unwrap_err();
        match err {
            Error::Decode { offset, .. } => assert_eq!(offset, 1),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn length_past_end_is_reported() {
        // Field 2 (sample) claiming 100 bytes with 1 present.
        let err = Profile::parse(&[0x12, 100, 0]).unwrap_err().to_string();
        assert!(err.contains("claims 100 bytes"), "{err}");
        assert!(err.contains("at byte 1"), "{err}");
    }

    #[test]
    fn text_is_named_as_text() {
        let err = Profile::parse(b"# notes\nnot a profile at all\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("this is a text file") && err.contains("\"# notes\""),
            "{err}"
        );
        let err = Profile::parse(b"goos: linux\nBenchmarkX-2 10 5 ns/op\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sonde benchstat"), "{err}");
        let err = Profile::parse(b"main;work;leaf 12\n").unwrap_err().to_string();
        assert!(err.contains("folded stacks"), "{err}");
        // Binary garbage keeps the wire-level explanation.
        let err = Profile::parse(&[0xff, 0xff, 0x00, 0x01]).unwrap_err().to_string();
        assert!(err.contains("at byte"), "{err}");
    }

    #[test]
    fn legacy_text_pprof_does_not_read_is_named() {
        // Go's debug=2 goroutine dump: pprof's parsers all decline it.
        let err = Profile::parse(b"goroutine 1 [running]:\nmain.main()\n").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Legacy {
                    format: "Go goroutine dump (debug=2 text)"
                }
            ),
            "{err:?}"
        );
        // A heap header with a sampling tag pprof does not know.
        let err = Profile::parse(b"heap profile: 1: 2 [ 1: 2] @ heapsomething/4\n").unwrap_err();
        assert!(matches!(err, Error::Legacy { format: "heap (text)" }), "{err:?}");
    }

    #[test]
    fn legacy_text_is_read() {
        let p = Profile::parse(b"heap profile:   1: 2 [ 1: 2] @ heapprofile\n1: 2 [1: 2] @ 0x10\n").unwrap();
        assert_eq!(p.sample_types[1].ty.as_ref(), "space");
        assert_eq!(p.samples[0].values, [1, 2]);
        assert_eq!(p.locations[0].address, 0xf);
    }

    #[test]
    fn oversized_input_is_refused() {
        let opts = ReadOptions { max_size: 4 };
        let err = Profile::parse_with(&[0x48, 1, 0x48, 1, 0x48, 1], &opts).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 4 }));
    }
}
