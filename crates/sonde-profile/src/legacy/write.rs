//! Writing profiles in Go's `debug=1` text forms, which this module's parsers
//! (and pprof's) read back: count profiles (`goroutine profile: total N`),
//! heap profiles (`heap profile: …`) and contention profiles (`--- mutex:`,
//! `--- contention:`). Each sample is a line of values and the stack's return
//! addresses, then one comment line per frame, as Go prints them.
//!
//! Values are written as the profile holds them, already scaled: the heap
//! header says `@ heapprofile` (not sampled) and the contention header
//! `cycles/second=1000000000` with `sampling period=1`, so that a reader
//! takes them as they are.

use std::fmt::Write;

use crate::{Profile, Sample};

/// `debug=1` of a count profile (`goroutine`, sonde's `tasks`): Go's
/// `printCountProfile`, `<name> profile: total N`, then each distinct stack
/// with its count and frames, largest count first.
pub fn count_text(p: &Profile, name: &str) -> String {
    let total: i64 = p.samples.iter().map(|s| value(s, 0)).sum();
    let mut by_stack: Vec<(&[u32], i64, &Sample)> = Vec::new();
    for s in &p.samples {
        match by_stack.iter_mut().find(|(l, _, _)| *l == s.locations.as_slice()) {
            Some(e) => e.1 += value(s, 0),
            None => by_stack.push((&s.locations, value(s, 0), s)),
        }
    }
    by_stack.sort_by_key(|b| std::cmp::Reverse(b.1));
    let mut out = format!("{name} profile: total {total}\n");
    for (_, n, s) in by_stack {
        let _ = write!(out, "{n} @");
        stack(&mut out, p, s);
    }
    out
}

/// `debug=1` of a heap profile (`heap`, `allocs`): `heap profile: INUSE_OBJECTS:
/// INUSE_BYTES [ALLOC_OBJECTS: ALLOC_BYTES] @ heapprofile`, then one line per
/// sample. Value types missing from the profile count as 0.
pub fn heap_text(p: &Profile) -> String {
    let index = |ty: &str| p.sample_types.iter().position(|t| &*t.ty == ty);
    let cols = [
        index("inuse_objects"),
        index("inuse_space"),
        index("alloc_objects"),
        index("alloc_space"),
    ];
    let get = |s: &Sample, c: Option<usize>| c.map_or(0, |i| value(s, i));
    let mut totals = [0i64; 4];
    for s in &p.samples {
        for (t, c) in totals.iter_mut().zip(cols) {
            *t += get(s, c);
        }
    }
    let mut out = format!(
        "heap profile: {}: {} [{}: {}] @ heapprofile\n",
        totals[0], totals[1], totals[2], totals[3]
    );
    for s in &p.samples {
        let _ = write!(
            out,
            "{}: {} [{}: {}] @",
            get(s, cols[0]),
            get(s, cols[1]),
            get(s, cols[2]),
            get(s, cols[3])
        );
        stack(&mut out, p, s);
    }
    out
}

/// `debug=1` of a contention profile (`contentions/count`, `delay/nanoseconds`):
/// `--- mutex:` (when `mutex`) or `--- contention:` (the block profile), then
/// `DELAY_CYCLES CONTENTIONS @ …` per sample, with cycles at 1 GHz, i.e. ns.
pub fn contention_text(p: &Profile, mutex: bool) -> String {
    let index = |ty: &str| p.sample_types.iter().position(|t| &*t.ty == ty);
    let (count, delay) = (index("contentions"), index("delay"));
    let mut out = String::from(if mutex { "--- mutex:\n" } else { "--- contention:\n" });
    out.push_str("cycles/second=1000000000\n");
    if mutex {
        out.push_str("sampling period=1\n");
    }
    for s in &p.samples {
        let get = |c: Option<usize>| c.map_or(0, |i| value(s, i));
        let _ = write!(out, "{} {} @", get(delay), get(count));
        stack(&mut out, p, s);
    }
    out
}

fn value(s: &Sample, i: usize) -> i64 {
    s.values.get(i).copied().unwrap_or(0)
}

/// The rest of a sample's line: its return addresses (a location's address is
/// the call's, one byte before the return address that readers subtract 1
/// from), a newline, then `#\tADDRESS\tFUNCTION+0x0\tFILE:LINE` per frame
/// (inlined frames first), and a blank line.
fn stack(out: &mut String, p: &Profile, s: &Sample) {
    for &l in &s.locations {
        if let Some(loc) = p.locations.get(l as usize) {
            let _ = write!(out, " {:#x}", loc.address.wrapping_add(1));
        }
    }
    out.push('\n');
    for &l in &s.locations {
        let Some(loc) = p.locations.get(l as usize) else {
            continue;
        };
        for line in &loc.lines {
            let Some(f) = p.functions.get(line.function as usize) else {
                continue;
            };
            let _ = writeln!(
                out,
                "#\t{:#x}\t{}+0x0\t{}:{}",
                loc.address, f.name, f.filename, line.line
            );
        }
        if loc.lines.is_empty() {
            let _ = writeln!(out, "#\t{:#x}", loc.address);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Function, Line, Location, ValueType};

    fn profile(types: &[(&str, &str)], samples: &[(&[u64], &[i64])]) -> Profile {
        let mut p = Profile {
            sample_types: types.iter().map(|(t, u)| ValueType::new(t, u)).collect(),
            ..Default::default()
        };
        p.functions.push(Function {
            name: "main::leaf".into(),
            system_name: "main::leaf".into(),
            filename: "src/main.rs".into(),
            ..Default::default()
        });
        let mut addrs: Vec<u64> = samples.iter().flat_map(|(a, _)| a.iter().copied()).collect();
        addrs.sort_unstable();
        addrs.dedup();
        for &a in &addrs {
            p.locations.push(Location {
                address: a,
                lines: vec![Line {
                    function: 0,
                    line: 7,
                    column: 0,
                }],
                ..Default::default()
            });
        }
        for (stack, values) in samples {
            p.samples.push(Sample {
                locations: stack.iter().map(|a| addrs.binary_search(a).unwrap() as u32).collect(),
                values: values.to_vec(),
                ..Default::default()
            });
        }
        p
    }

    /// The values of each sample, keyed by its stack's addresses.
    fn by_stack(p: &Profile) -> Vec<(Vec<u64>, Vec<i64>)> {
        let mut v: Vec<_> = p
            .samples
            .iter()
            .map(|s| {
                let addrs = s.locations.iter().map(|&l| p.locations[l as usize].address).collect();
                (addrs, s.values.clone())
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn heap_text_reads_back_with_the_same_numbers() {
        let p = profile(
            &[
                ("alloc_objects", "count"),
                ("alloc_space", "bytes"),
                ("inuse_objects", "count"),
                ("inuse_space", "bytes"),
            ],
            &[(&[0x1000, 0x2000], &[5, 5000, 2, 2000]), (&[0x1100], &[3, 96, 0, 0])],
        );
        let text = heap_text(&p);
        assert!(
            text.starts_with("heap profile: 2: 2000 [8: 5096] @ heapprofile\n"),
            "{text}"
        );
        assert!(text.contains("#\t0x1000\tmain::leaf+0x0\tsrc/main.rs:7\n"), "{text}");
        let back = Profile::parse(text.as_bytes()).expect("parses");
        let types: Vec<_> = back.sample_types.iter().map(|t| t.ty.to_string()).collect();
        assert_eq!(types, ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]);
        assert_eq!(by_stack(&back), by_stack(&p));
    }

    #[test]
    fn contention_text_reads_back_with_the_same_numbers() {
        let p = profile(
            &[("contentions", "count"), ("delay", "nanoseconds")],
            &[(&[0x1000, 0x2000], &[4, 123_456]), (&[0x3000], &[1, 7])],
        );
        for mutex in [true, false] {
            let text = contention_text(&p, mutex);
            let back = Profile::parse(text.as_bytes()).expect("parses");
            assert_eq!(by_stack(&back), by_stack(&p), "{text}");
        }
        assert!(contention_text(&p, true).starts_with("--- mutex:\ncycles/second=1000000000\nsampling period=1\n"));
        assert!(contention_text(&p, false).starts_with("--- contention:\n"));
    }

    #[test]
    fn count_text_groups_stacks_and_reads_back() {
        let p = profile(
            &[("goroutine", "count")],
            &[(&[0x1000, 0x2000], &[3]), (&[0x1000, 0x2000], &[2]), (&[0x3000], &[1])],
        );
        let text = count_text(&p, "goroutine");
        assert!(
            text.starts_with("goroutine profile: total 6\n5 @ 0x1001 0x2001\n"),
            "{text}"
        );
        let back = Profile::parse(text.as_bytes()).expect("parses");
        assert_eq!(
            by_stack(&back),
            vec![(vec![0x1000, 0x2000], vec![5]), (vec![0x3000], vec![1])]
        );
    }
}
