//! Text heap profiles: gperftools' heap profiler and Go's `debug=1` heap
//! profile, also their growth and fragmentation variants.
//!
//! ```text
//! heap profile: 13: 1595680 [47130736: 2584596557304] @ heap/1048576
//! 1: 524288 [3: 1572864] @ 0x420cef 0x422151 0x4221da
//! ```
//!
//! Each line gives objects and bytes in use, then `[` allocated `]` since the
//! start, then the stack. The header's sampling tag says how the values were
//! sampled: `heap_v2/R` and `heapz_v2/R` every R bytes on average, Go's
//! `heap/2R` likewise; pprof scales sampled values back up (see
//! [`scale_heap_sample`]).

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::build::{Builder, RawSample};
use super::text::{Lines, go_int64, hex_addresses, is_memory_map_sentinel, is_space_or_comment};
use crate::Profile;
use crate::hash::FastMap;

/// How a profile's values were sampled.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Sampling {
    /// Every allocation, or unknown: values as they are.
    None,
    /// Poisson sampling every `period` bytes on average.
    V2,
}

/// What a heap header says.
pub(super) struct Header {
    pub(super) sampling: Sampling,
    pub(super) period: i64,
    pub(super) has_alloc: bool,
}

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    static HEAP: LazyLock<Regex> = re!(concat!(
        r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\] *@ *",
        r"(heap[_a-z0-9]*)/?([0-9]*)"
    ));
    static GROWTH: LazyLock<Regex> = re!(r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\] @ growthz?");
    static FRAGMENTATION: LazyLock<Regex> =
        re!(r"heap profile: *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\] @ fragmentationz?");
    let mut lines = Lines::new(data);
    if !lines.scan() {
        lines.check()?;
        return Err(Fail::Unrecognized);
    }
    let first = lines.text();
    let header = if let Some(c) = HEAP.captures(first) {
        let totals = [&c[1], &c[2], &c[3], &c[4]];
        let period = if c[6].is_empty() {
            0
        } else {
            c[6].parse::<i64>().map_err(|_| Fail::Unrecognized)?
        };
        let (sampling, period) = match &c[5] {
            "heapz_v2" | "heap_v2" => (Sampling::V2, period),
            "heapprofile" => (Sampling::None, 1),
            // Go writes twice its sampling rate.
            "heap" => (Sampling::V2, period / 2),
            _ => return Err(Fail::Unrecognized),
        };
        Header {
            sampling,
            period,
            has_alloc: has_alloc(totals),
        }
    } else if GROWTH.is_match(first) || FRAGMENTATION.is_match(first) {
        Header {
            sampling: Sampling::None,
            period: 1,
            has_alloc: false,
        }
    } else {
        return Err(Fail::Unrecognized);
    };
    let mut p = builder(&header);
    let mut seen = FastMap::default();
    while lines.scan() {
        let line = lines.text().trim();
        if is_space_or_comment(line) {
            continue;
        }
        if is_memory_map_sentinel(line) {
            break;
        }
        let (values, bytes, addrs) = sample(line, &header).map_err(|e| format!("line {}: {e}", lines.number()))?;
        let locations = p.call_sites(&mut seen, addrs);
        p.samples.push(RawSample {
            locations,
            values,
            bytes: Some(bytes),
        });
    }
    lines.check()?;
    p.additional_sections(&mut lines)?;
    p.finish()
}

/// Whether the header's totals of allocations differ from those in use (as
/// text, as pprof compares them), so that both are worth reporting.
pub(super) fn has_alloc(totals: [&str; 4]) -> bool {
    (totals[2] != totals[0] && totals[2] != "0") || (totals[3] != totals[1] && totals[3] != "0")
}

/// An empty heap profile: allocated and in-use values when `has_alloc`,
/// `objects` and `space` otherwise.
pub(super) fn builder(h: &Header) -> Builder {
    let types: &[(&str, &str)] = if h.has_alloc {
        // Allocations first, so that reports default to inuse_space.
        &[
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ]
    } else {
        &[("objects", "count"), ("space", "bytes")]
    };
    Builder::new(types, Some(("space", "bytes")), h.period)
}

/// One sample line: its values, the block size and the stack.
pub(super) fn sample(line: &str, h: &Header) -> Result<(Vec<i64>, i64, Vec<u64>), String> {
    static SAMPLE: LazyLock<Regex> = re!(r"(-?[0-9]+): *(-?[0-9]+) *\[ *([0-9]+): *([0-9]+) *] @([ x0-9a-f]*)");
    let c = SAMPLE
        .captures(line)
        .ok_or_else(|| format!("{line:?} is not a sample (`N: BYTES [N: BYTES] @ 0x...`)"))?;
    let mut values = Vec::with_capacity(4);
    let mut block = 0;
    let mut add = |count: &str, size: &str, what: &str| -> Result<(), String> {
        let number = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| format!("malformed sample {line:?}: {s} does not fit in 64 bits"))
        };
        let (mut count, mut size) = (number(count)?, number(size)?);
        if count == 0 && size != 0 {
            return Err(format!("{what} count was 0 but {what} bytes was {size}"));
        }
        if count != 0 {
            block = size.wrapping_div(count);
            if h.sampling == Sampling::V2 {
                (count, size) = scale_heap_sample(count, size, h.period);
            }
        }
        values.extend([count, size]);
        Ok(())
    };
    if h.has_alloc {
        add(&c[3], &c[4], "allocation")?;
    }
    add(&c[1], &c[2], "inuse")?;
    let addrs = hex_addresses(&c[5]).map_err(|e| format!("malformed sample {line:?}: {e}"))?;
    Ok((values, block, addrs))
}

/// Estimates the unsampled count and size of allocations seen `count` times
/// for `size` bytes, when one allocation is sampled per `rate` bytes on
/// average (Poisson): an allocation of `s` bytes is seen with probability
/// `1 - exp(-s/rate)`. A rate of 1 or less means no correction.
pub(super) fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let average = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-average / rate as f64).exp());
    (go_int64(count as f64 * scale), go_int64(size as f64 * scale))
}
