//! The protobuf wire format of `profile.proto`, read by hand where it matters:
//! one pass over the top-level fields, varints with offsets in errors, id maps,
//! string lookups, and samples decoded without intermediate allocations.

use std::collections::HashMap;

use prost::Message;

use crate::model::{Label, LabelValue, Labels, Str};
use crate::{Error, Result, proto};

pub(crate) fn decode_err(offset: usize, what: impl Into<String>) -> Error {
    Error::Decode {
        offset,
        what: what.into(),
    }
}

/// Reads a base-128 varint at `*pos`, advancing it.
pub(crate) fn varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let start = *pos;
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(decode_err(start, "varint runs past the end of the input"));
        };
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(decode_err(start, "varint longer than 10 bytes"))
}

/// Byte ranges of the repeated message fields of a Profile, found in one pass.
#[derive(Default)]
pub(crate) struct Fields {
    pub(crate) sample_type: Vec<(usize, usize)>,
    pub(crate) sample: Vec<(usize, usize)>,
    pub(crate) mapping: Vec<(usize, usize)>,
    pub(crate) location: Vec<(usize, usize)>,
    pub(crate) function: Vec<(usize, usize)>,
    pub(crate) strings: Vec<(usize, usize)>,
    pub(crate) period_type: Option<(usize, usize)>,
    pub(crate) comment: Vec<(i64, usize)>,
    pub(crate) scalars: [(i64, usize); 16],
}

pub(crate) const FIELD_NAMES: [&str; 16] = [
    "",
    "sample_type",
    "sample",
    "mapping",
    "location",
    "function",
    "string_table",
    "drop_frames",
    "keep_frames",
    "time_nanos",
    "duration_nanos",
    "period_type",
    "period",
    "comment",
    "default_sample_type",
    "doc_url",
];

pub(crate) fn scan_fields(buf: &[u8]) -> Result<Fields> {
    let mut f = Fields::default();
    let mut pos = 0;
    while pos < buf.len() {
        let key_at = pos;
        let key = varint(buf, &mut pos)?;
        let (field, wire) = (key >> 3, (key & 7) as u8);
        if field == 0 {
            return Err(decode_err(key_at, "field number 0 is not allowed"));
        }
        let name = FIELD_NAMES.get(field as usize).copied().unwrap_or("unknown");
        match wire {
            0 => {
                let v = varint(buf, &mut pos)? as i64;
                match field {
                    // A second time_nanos after a non-zero first one is two
                    // profiles written into one file (pprof's errConcatProfile).
                    9 if f.scalars[9].0 != 0 => {
                        return Err(Error::Invalid(format!(
                            "concatenated profiles: a second time_nanos at byte {key_at} (two profiles were \
                             written into one file; split them, or merge them with sonde merge)"
                        )));
                    }
                    7..=10 | 12 | 14 | 15 => f.scalars[field as usize] = (v, key_at),
                    13 => f.comment.push((v, key_at)),
                    1..=6 | 11 => {
                        return Err(decode_err(
                            key_at,
                            format!("field {field} ({name}) should be length-delimited, found a varint"),
                        ));
                    }
                    _ => {}
                }
            }
            2 => {
                let len_at = pos;
                let len = varint(buf, &mut pos)?;
                let end = pos
                    .checked_add(usize::try_from(len).unwrap_or(usize::MAX))
                    .filter(|&e| e <= buf.len())
                    .ok_or_else(|| {
                        decode_err(
                            len_at,
                            format!(
                                "field {field} ({name}) claims {len} bytes but only {} remain (truncated input?)",
                                buf.len() - pos
                            ),
                        )
                    })?;
                let range = (pos, end);
                match field {
                    1 => f.sample_type.push(range),
                    2 => f.sample.push(range),
                    3 => f.mapping.push(range),
                    4 => f.location.push(range),
                    5 => f.function.push(range),
                    6 => f.strings.push(range),
                    11 => f.period_type = Some(range),
                    13 => {
                        // Packed comments.
                        let mut p = pos;
                        while p < end {
                            let at = p;
                            let v = varint(&buf[..end], &mut p)? as i64;
                            f.comment.push((v, at));
                        }
                    }
                    7..=10 | 12 | 14 | 15 => {
                        return Err(decode_err(
                            key_at,
                            format!("field {field} ({name}) should be a varint, found length-delimited data"),
                        ));
                    }
                    _ => {}
                }
                pos = end;
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if (1..=15).contains(&field) {
                    return Err(decode_err(
                        key_at,
                        format!("field {field} ({name}) has a fixed-width wire type {wire}"),
                    ));
                }
                if pos + n > buf.len() {
                    return Err(decode_err(key_at, "fixed-width field runs past the end of the input"));
                }
                pos += n;
            }
            _ => {
                return Err(decode_err(
                    key_at,
                    format!("invalid wire type {wire} for field {field}"),
                ));
            }
        }
    }
    Ok(f)
}

/// Maps ids from the wire to table indexes.
pub(crate) enum IdMap {
    Dense(Vec<u32>),
    Sparse(HashMap<u64, u32>),
}

const NO_INDEX: u32 = u32::MAX;

impl IdMap {
    /// Builds the map; fails on id 0 or duplicates, naming `what`.
    pub(crate) fn new(ids: impl ExactSizeIterator<Item = u64> + Clone, what: &str) -> Result<IdMap> {
        let n = ids.len();
        let max = ids.clone().max().unwrap_or(0);
        let mut map = if max <= (4 * n as u64 + 16) {
            IdMap::Dense(vec![NO_INDEX; max as usize + 1])
        } else {
            IdMap::Sparse(HashMap::with_capacity(n))
        };
        for (i, id) in ids.enumerate() {
            if id == 0 {
                return Err(Error::Invalid(format!("{what} #{} has the reserved id 0", i + 1)));
            }
            let dup = match &mut map {
                IdMap::Dense(v) => std::mem::replace(&mut v[id as usize], i as u32) != NO_INDEX,
                IdMap::Sparse(m) => m.insert(id, i as u32).is_some(),
            };
            if dup {
                return Err(Error::Invalid(format!("two {what}s have the same id {id}")));
            }
        }
        Ok(map)
    }

    pub(crate) fn get(&self, id: u64) -> Option<u32> {
        match self {
            IdMap::Dense(v) => v.get(id as usize).copied().filter(|&i| i != NO_INDEX),
            IdMap::Sparse(m) => m.get(&id).copied(),
        }
    }
}

/// The string table with range-checked lookups.
pub(crate) struct Strings(pub(crate) Vec<Str>);

impl Strings {
    pub(crate) fn get(&self, idx: i64, what: impl FnOnce() -> String) -> Result<Str> {
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.0.get(i))
            .cloned()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{} uses string index {idx}, but the string table has {} entries",
                    what(),
                    self.0.len()
                ))
            })
    }
}

pub(crate) fn sub<M: Message + Default>(
    buf: &[u8],
    (s, e): (usize, usize),
    what: impl FnOnce() -> String,
) -> Result<M> {
    M::decode(&buf[s..e]).map_err(|err| decode_err(s, format!("invalid {}: {err}", what())))
}

/// Decodes one `Sample` message in `buf[start..end]` without intermediate
/// allocations: location ids are resolved to indexes as they are read.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_sample(
    buf: &[u8],
    start: usize,
    end: usize,
    locations: &mut Vec<u32>,
    values: &mut Vec<i64>,
    labels: &mut Vec<proto::Label>,
    location_map: &IdMap,
    index: usize,
) -> Result<()> {
    let msg = &buf[..end];
    let mut pos = start;
    let resolve = |id: u64, locations: &mut Vec<u32>| -> Result<()> {
        let l = location_map.get(id).ok_or_else(|| {
            Error::Invalid(format!(
                "sample #{} refers to location id {id}, which the profile does not define",
                index + 1
            ))
        })?;
        locations.push(l);
        Ok(())
    };
    while pos < end {
        let key_at = pos;
        let key = varint(msg, &mut pos)?;
        match (key >> 3, key & 7) {
            (1, 2) | (2, 2) => {
                let len_at = pos;
                let len = varint(msg, &mut pos)? as usize;
                let stop = pos.checked_add(len).filter(|&e| e <= end).ok_or_else(|| {
                    decode_err(
                        len_at,
                        format!("sample #{}: packed field runs past the sample's end", index + 1),
                    )
                })?;
                // Each varint ends with the one byte that has its top bit clear.
                let count = msg[pos..stop].iter().filter(|&&b| b < 0x80).count();
                if key >> 3 == 1 {
                    locations.reserve_exact(count);
                    while pos < stop {
                        let id = varint(&msg[..stop], &mut pos)?;
                        resolve(id, locations)?;
                    }
                } else {
                    values.reserve_exact(count);
                    while pos < stop {
                        values.push(varint(&msg[..stop], &mut pos)? as i64);
                    }
                }
            }
            (1, 0) => {
                let id = varint(msg, &mut pos)?;
                resolve(id, locations)?;
            }
            (2, 0) => values.push(varint(msg, &mut pos)? as i64),
            (3, 2) => {
                let len_at = pos;
                let len = varint(msg, &mut pos)? as usize;
                let stop = pos.checked_add(len).filter(|&e| e <= end).ok_or_else(|| {
                    decode_err(
                        len_at,
                        format!("sample #{}: label runs past the sample's end", index + 1),
                    )
                })?;
                let label = proto::Label::decode(&msg[pos..stop])
                    .map_err(|e| decode_err(pos, format!("invalid label in sample #{}: {e}", index + 1)))?;
                labels.push(label);
                pos = stop;
            }
            (field, wire) => {
                // Unknown fields are skipped, as protobuf requires.
                let skip = match wire {
                    0 => {
                        varint(msg, &mut pos)?;
                        0
                    }
                    1 => 8,
                    5 => 4,
                    2 => varint(msg, &mut pos)? as usize,
                    _ => {
                        return Err(decode_err(
                            key_at,
                            format!("invalid wire type {wire} for field {field} in sample #{}", index + 1),
                        ));
                    }
                };
                pos = pos.checked_add(skip).filter(|&e| e <= end).ok_or_else(|| {
                    decode_err(
                        key_at,
                        format!("sample #{}: field {field} runs past the sample's end", index + 1),
                    )
                })?;
            }
        }
    }
    Ok(())
}

pub(crate) fn resolve_labels(raw: &[proto::Label], strings: &Strings, sample: usize) -> Result<Labels> {
    let mut out = Vec::with_capacity(raw.len());
    for l in raw {
        let key = strings.get(l.key, || format!("sample #{} label key", sample + 1))?;
        // As in pprof, a label with neither a string nor a number carries nothing.
        let value = if l.str != 0 {
            LabelValue::Str(strings.get(l.str, || format!("sample #{} label {key:?} value", sample + 1))?)
        } else if l.num != 0 || l.num_unit != 0 {
            LabelValue::Num {
                value: l.num,
                unit: strings.get(l.num_unit, || format!("sample #{} label {key:?} unit", sample + 1))?,
            }
        } else {
            continue;
        };
        out.push(Label { key, value });
    }
    Ok(Labels::new(out))
}
