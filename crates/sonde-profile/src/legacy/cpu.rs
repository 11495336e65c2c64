//! gperftools' binary CPU profile ("profilez"), and Java's variant of it.
//!
//! A sequence of words (32 or 64 bits, either byte order): a header `0 3 KIND
//! PERIOD_US 0` (KIND 0 for C++, 1 for Java), then samples `COUNT DEPTH PC...`
//! ending with `0 1 0`, then text: the memory map for C++, the frame names for
//! Java.

use super::Fail;
use super::build::{Builder, RawSample};
use super::java;
use super::text::Lines;
use crate::Profile;
use crate::hash::FastMap;

/// A word size and byte order.
#[derive(Clone, Copy, Debug)]
struct Words {
    size: usize,
    big_endian: bool,
}

impl Words {
    /// The next word and what follows it, or `None` when too few bytes remain.
    fn next(self, b: &[u8]) -> Option<(u64, &[u8])> {
        let (w, rest) = b.split_at_checked(self.size)?;
        let fold = |acc: u64, &x: &u8| (acc << 8) | u64::from(x);
        let v = if self.big_endian {
            w.iter().fold(0, fold)
        } else {
            w.iter().rev().fold(0, fold)
        };
        Some((v, rest))
    }
}

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    for (size, big_endian) in [(4, false), (4, true), (8, false), (8, true)] {
        let words = Words { size, big_endian };
        let mut rest = data;
        let mut header = [0u64; 5];
        let mut complete = true;
        for h in &mut header {
            match words.next(rest) {
                Some((v, r)) => (*h, rest) = (v, r),
                None => complete = false,
            }
        }
        if !complete || header[0] != 0 || header[1] != 3 || header[3] == 0 || header[4] != 0 {
            continue;
        }
        let period = (header[3] as i64).wrapping_mul(1000);
        match header[2] {
            0 => return cpp(rest, period, words),
            1 => return java_cpu(rest, period, words),
            _ => {}
        }
    }
    Err(Fail::Unrecognized)
}

/// A new builder for a CPU profile sampled every `period` nanoseconds.
fn cpu_builder(period: i64) -> Builder {
    Builder::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        Some(("cpu", "nanoseconds")),
        period,
    )
}

/// A C++ profile: samples, the signal handler's frame removed, the memory map.
fn cpp(b: &[u8], period: i64, words: Words) -> Result<Profile, Fail> {
    let mut p = cpu_builder(period);
    let mut seen = FastMap::default();
    let rest = samples(b, words, true, &mut p, &mut seen)?;

    // When (nearly) every sample has the same second frame, that frame was
    // pushed by the signal handler, not called: drop it, at most twice.
    let margin = p.samples.len() / 32;
    for _ in 0..2 {
        let mut counts: FastMap<u64, usize> = FastMap::default();
        for s in &p.samples {
            if s.locations.len() > 1 {
                *counts.entry(p.locations[s.locations[1]].address).or_default() += 1;
            }
        }
        let common = counts
            .iter()
            .find(|&(_, &n)| n >= p.samples.len() - margin)
            .map(|(&a, _)| a);
        if let Some(a) = common {
            for s in &mut p.samples {
                if s.locations.len() > 1 && p.locations[s.locations[1]].address == a {
                    s.locations.remove(1);
                }
            }
        }
    }

    let mut lines = Lines::new(rest);
    p.memory_map(&mut lines)?;
    p.cleanup_duplicate_locations();
    p.finish()
}

/// A Java profile: samples with unadjusted addresses, then frame names.
fn java_cpu(b: &[u8], period: i64, words: Words) -> Result<Profile, Fail> {
    let mut p = cpu_builder(period);
    let mut seen = FastMap::default();
    let rest = samples(b, words, false, &mut p, &mut seen)?;
    java::locations(rest, &seen, &mut p)?;
    java::strip_addresses(&mut p);
    p.finish()
}

/// Reads samples up to the end marker and returns the bytes after it. With
/// `adjust`, return addresses (all frames but the leaf) are moved back one
/// byte, onto the call instruction.
fn samples<'a>(
    mut b: &'a [u8],
    words: Words,
    adjust: bool,
    p: &mut Builder,
    seen: &mut FastMap<u64, usize>,
) -> Result<&'a [u8], Fail> {
    // Past the end of the data, pprof's reader yields zeros and no bytes.
    let read = |b: &mut Option<&'a [u8]>| -> u64 {
        match b.and_then(|bytes| words.next(bytes)) {
            Some((v, rest)) => {
                *b = Some(rest);
                v
            }
            None => {
                *b = None;
                0
            }
        }
    };
    while !b.is_empty() {
        let mut cur = Some(b);
        let count = read(&mut cur);
        let depth = read(&mut cur);
        let Some(after) = cur else {
            return Err(Fail::Unrecognized);
        };
        if depth > (after.len() / 4) as u64 {
            return Err(Fail::Unrecognized);
        }
        let addrs: Vec<u64> = (0..depth).map(|_| read(&mut cur)).collect();
        b = cur.unwrap_or_default();
        if count == 0 && depth == 1 && addrs[0] == 0 {
            break;
        }
        let locations = addrs
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let a = if adjust && i > 0 { a.wrapping_sub(1) } else { a };
                p.location(seen, a)
            })
            .collect();
        let count = count as i64;
        p.samples.push(RawSample {
            locations,
            values: vec![count, count.wrapping_mul(p.period)],
            bytes: None,
        });
    }
    Ok(b)
}
