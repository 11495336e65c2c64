//! Java's text heapz and contentionz profiles, and the frame names that end
//! every Java profile (also the binary CPU one).
//!
//! ```text
//! --- heapz 1 ---
//! format = java
//! resolution = bytes
//!       7048     1 @ 0x00000003 0x00000004
//! 0x00000003 com.example.Foo.bar (Foo.java:42)
//! ```
//!
//! Sample lines give the second value first. Addresses only name frames: they
//! are cleared once the frames are named, as pprof does.

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::build::{Builder, RawFunction, RawSample};
use super::heap::scale_heap_sample;
use super::text::{hex_addresses, parse_int_any_base};
use crate::Profile;
use crate::hash::FastMap;
use crate::model::base_name;

/// Java heapz profiles sample one allocation per 512 KiB on average.
const JAVA_HEAP_RATE: i64 = 524_288;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Heap,
    Contention,
}

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return Err(Fail::Unrecognized);
    };
    let kind = match String::from_utf8_lossy(&data[..nl]).trim() {
        "--- heapz 1 ---" => Kind::Heap,
        "--- contentionz 1 ---" => Kind::Contention,
        _ => return Err(Fail::Unrecognized),
    };
    let mut p = Builder {
        period_type: Some(crate::ValueType::new("", "")),
        ..Builder::default()
    };
    let rest = header(kind, &data[nl + 1..], &mut p)?;
    let mut seen = FastMap::default();
    let rest = samples(kind, rest, &mut p, &mut seen)?;
    locations(rest, &seen, &mut p)?;
    strip_addresses(&mut p);
    p.finish()
}

/// Complete lines of `b`, trimmed, each with the bytes from its start and the
/// bytes after it; a last line without `\n` is not included.
fn complete_lines(b: &[u8]) -> impl Iterator<Item = (String, &[u8], &[u8])> {
    let mut rest = b;
    std::iter::from_fn(move || {
        let nl = rest.iter().position(|&c| c == b'\n')?;
        let from = rest;
        let line = String::from_utf8_lossy(&rest[..nl]).trim().to_string();
        rest = &rest[nl + 1..];
        Some((line, from, rest))
    })
}

/// Reads `name = value` attributes; returns the bytes from the first line that
/// is not one.
fn header<'a>(kind: Kind, b: &'a [u8], p: &mut Builder) -> Result<&'a [u8], Fail> {
    static ATTRIBUTE: LazyLock<Regex> = re!(r"([0-9A-Za-z_ ]+)=([0-9A-Za-z_ ]+)");
    let mut end = b;
    for (line, from, after) in complete_lines(b) {
        end = after;
        if line.is_empty() {
            continue;
        }
        let Some(c) = ATTRIBUTE.captures(&line) else {
            return Ok(from);
        };
        let (name, value) = (c[1].trim(), c[2].trim());
        let number = |what: &str| {
            parse_int_any_base(value)
                .ok_or_else(|| Fail::Malformed(format!("{what} {value:?} is not a number (in {line:?})")))
        };
        match (kind, name) {
            (_, "format") => {
                if value != "java" {
                    return Err(Fail::Unrecognized);
                }
            }
            (Kind::Heap, "resolution") => {
                p.sample_types = vec![
                    crate::ValueType::new("inuse_objects", "count"),
                    crate::ValueType::new("inuse_space", value),
                ];
            }
            (Kind::Contention, "resolution") => {
                p.sample_types = vec![
                    crate::ValueType::new("contentions", "count"),
                    crate::ValueType::new("delay", value),
                ];
            }
            (Kind::Contention, "sampling period") => {
                p.period_type = Some(crate::ValueType::new("contentions", "count"));
                p.period = number("the sampling period")?;
            }
            (Kind::Contention, "ms since reset") => {
                p.duration_nanos = number("ms since reset")?.wrapping_mul(1_000_000);
            }
            _ => return Err(Fail::Unrecognized),
        }
    }
    Ok(end)
}

/// Reads sample lines; returns the bytes from the first line that is not one.
fn samples<'a>(kind: Kind, b: &'a [u8], p: &mut Builder, seen: &mut FastMap<u64, usize>) -> Result<&'a [u8], Fail> {
    static SAMPLE: LazyLock<Regex> = re!(r" *([0-9]+) +([0-9]+) +@ +([ x0-9a-f]*)");
    let mut end = b;
    for (line, from, after) in complete_lines(b) {
        end = after;
        if line.is_empty() {
            continue;
        }
        let Some(c) = SAMPLE.captures(&line) else {
            return Ok(from);
        };
        let addrs = hex_addresses(&c[3]).map_err(|e| format!("malformed sample {line:?}: {e}"))?;
        let locations = addrs.into_iter().map(|a| p.location(seen, a)).collect();
        let number = |s: &str| {
            parse_int_any_base(s).ok_or_else(|| Fail::Malformed(format!("sample {line:?}: {s} is not a number")))
        };
        // Java writes the second value first.
        let mut values = vec![number(&c[2])?, number(&c[1])?];
        let mut bytes = None;
        match kind {
            Kind::Heap => {
                if values[0] == 0 {
                    return Err(Fail::Malformed(format!(
                        "sample {line:?}: the object count (second value) must not be zero"
                    )));
                }
                bytes = Some(values[1].wrapping_div(values[0]));
                let (n, s) = scale_heap_sample(values[0], values[1], JAVA_HEAP_RATE);
                values = vec![n, s];
            }
            Kind::Contention => {
                if p.period != 0 {
                    for v in &mut values {
                        *v = v.wrapping_mul(p.period);
                    }
                }
            }
        }
        p.samples.push(RawSample {
            locations,
            values,
            bytes,
        });
    }
    Ok(end)
}

/// Names the frames of `seen` (address to location) from lines `0xADDR name
/// (file:line)`, `0xADDR name (library path)` or `0xADDR name`, then numbers
/// the tables.
pub(super) fn locations(b: &[u8], seen: &FastMap<u64, usize>, p: &mut Builder) -> Result<(), Fail> {
    static LOCATION: LazyLock<Regex> = re!(r"^[\t\n\f\r ]*0x([0-9A-Fa-f]+)[\t\n\f\r ]+(.*)[\t\n\f\r ]*$");
    static FILE_LINE: LazyLock<Regex> = re!(r"^(.*)[\t\n\f\r ]+\((.+):(-?[0-9]+)\)$");
    static PATH: LazyLock<Regex> = re!(r"^(.*)[\t\n\f\r ]+\((.*)\)$");
    let mut functions: FastMap<String, usize> = FastMap::default();
    for raw in b.split(|&c| c == b'\n') {
        let text = String::from_utf8_lossy(raw);
        let line = text.trim();
        let Some(c) = LOCATION.captures(line) else {
            continue;
        };
        let addr = u64::from_str_radix(&c[1], 16)
            .map_err(|_| format!("frame line {line:?}: address 0x{} does not fit in 64 bits", &c[1]))?;
        let Some(&loc) = seen.get(&addr) else {
            continue;
        };
        let what = &c[2];
        let (name, file, number) = if let Some(f) = FILE_LINE.captures(what) {
            let n = f[3].parse::<i64>().ok().filter(|&n| n > 0).unwrap_or(0);
            (f[1].to_string(), f[2].to_string(), n)
        } else if let Some(f) = PATH.captures(what) {
            // A shared library: its name is enough.
            (f[1].to_string(), go_base(&f[2]).to_string(), 0)
        } else if what.contains("generated stub/JIT") {
            ("STUB".to_string(), String::new(), 0)
        } else {
            // The agent's own states, such as "GC" or "VM".
            (what.to_string(), String::new(), 0)
        };
        let f = match functions.get(&name) {
            Some(&f) => f,
            None => {
                p.functions.push(RawFunction {
                    name: name.clone(),
                    file,
                });
                functions.insert(name, p.functions.len() - 1);
                p.functions.len() - 1
            }
        };
        p.locations[loc].line = Some((f, number));
        p.locations[loc].address = 0;
    }
    p.remap_locations();
    p.remap_functions();
    p.remap_mappings();
    Ok(())
}

/// Go's `filepath.Base`: the last element, `.` for an empty path.
fn go_base(path: &str) -> &str {
    if path.is_empty() { "." } else { base_name(path) }
}

/// Clears every address (pprof aggregates Java profiles by function and line).
pub(super) fn strip_addresses(p: &mut Builder) {
    for l in &mut p.locations {
        l.address = 0;
    }
}
