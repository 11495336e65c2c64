//! jemalloc's heap profile dump, as `prof.dump` (and so tikv-jemallocator's
//! profiling) writes it since jemalloc 4:
//!
//! ```text
//! heap_v2/524288
//!   t*: 28106: 56637512 [0: 0]
//!   t3: 352: 16777344 [0: 0]
//! @ 0x1c7e5d 0x1c7a4a 0x1c0eb5
//!   t*: 13: 6688 [0: 0]
//!   t3: 12: 6496 [0: 0]
//!
//! MAPPED_LIBRARIES:
//! 00400000-00452000 r-xp 00000000 08:01 1234 /usr/bin/app
//! ```
//!
//! `t*:` lines are totals over all threads (objects and bytes in use, then
//! `[` accumulated `]`); `tN:` lines split them by thread. `go tool pprof`
//! does not read this layout, but it reads the same numbers written the
//! gperftools way (`heap profile: 28106: 56637512 [0: 0] @ heap_v2/524288`,
//! then `13: 6688 [0: 0] @ 0x1c7e5d ...`, which is what jemalloc 3 wrote).
//! sonde reads a dump as pprof reads that equivalent: totals per stack, scaled
//! for sampling as pprof scales `heap_v2` profiles, the per-thread split set
//! aside (as `jeprof` does for its main report).

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::build::RawSample;
use super::heap::{Header, Sampling, builder, has_alloc, sample};
use super::text::{Lines, is_memory_map_sentinel};
use crate::Profile;
use crate::hash::FastMap;

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    static HEADER: LazyLock<Regex> = re!(r"\Aheap_v2/([0-9]+)\z");
    static STACK: LazyLock<Regex> = re!(r"\A@([ x0-9a-fA-F]*)\z");
    static COUNTS: LazyLock<Regex> = re!(r"\At(\*|[0-9]+): *([0-9]+): *([0-9]+) *\[ *([0-9]+): *([0-9]+) *\]\z");
    let mut lines = Lines::new(data);
    if !lines.scan() {
        lines.check()?;
        return Err(Fail::Unrecognized);
    }
    let Some(c) = HEADER.captures(lines.text().trim()) else {
        return Err(Fail::Unrecognized);
    };
    let period = c[1]
        .parse::<i64>()
        .map_err(|_| Fail::Malformed(format!("sampling rate {} does not fit in 64 bits", &c[1])))?;

    // The totals line of the header decides, as pprof's header does, whether
    // allocated values are reported beside those in use.
    let mut header: Option<Header> = None;
    let mut stack: Option<String> = None;
    let mut p = None;
    let mut seen = FastMap::default();
    while lines.scan() {
        let line = lines.text().trim();
        if is_memory_map_sentinel(line) {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let at = lines.number();
        if let Some(s) = STACK.captures(line) {
            if header.is_none() {
                return Err(Fail::Malformed(format!(
                    "line {at}: a stack before the totals line (`t*: N: BYTES [N: BYTES]`) of the header"
                )));
            }
            stack = Some(s[1].to_string());
            continue;
        }
        let Some(c) = COUNTS.captures(line) else {
            return Err(Fail::Malformed(format!(
                "line {at}: {line:?} is neither a stack (`@ 0x...`) nor counts (`t*: N: BYTES [N: BYTES]`)"
            )));
        };
        if &c[1] != "*" {
            continue;
        }
        let Some(h) = &header else {
            header = Some(Header {
                sampling: Sampling::V2,
                period,
                has_alloc: has_alloc([&c[2], &c[3], &c[4], &c[5]]),
            });
            continue;
        };
        let Some(addrs) = stack.take() else {
            return Err(Fail::Malformed(format!(
                "line {at}: a second totals line for one stack"
            )));
        };
        let b = p.get_or_insert_with(|| builder(h));
        // The same sample in the gperftools layout, read as pprof reads it.
        let equivalent = format!(
            "{}: {} [{}: {}] @{}",
            &c[2],
            &c[3],
            &c[4],
            &c[5],
            addrs.to_ascii_lowercase()
        );
        let (values, bytes, addrs) = sample(&equivalent, h).map_err(|e| format!("line {at}: {e}"))?;
        let locations = b.call_sites(&mut seen, addrs);
        b.samples.push(RawSample {
            locations,
            values,
            bytes: Some(bytes),
        });
    }
    lines.check()?;
    let Some(h) = header else {
        return Err(Fail::Malformed(
            "no totals line (`t*: N: BYTES [N: BYTES]`) after the header".to_string(),
        ));
    };
    let mut p = p.unwrap_or_else(|| builder(&h));
    p.additional_sections(&mut lines)?;
    p.finish()
}
