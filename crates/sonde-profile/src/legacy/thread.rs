//! Thread dumps (threadz): one stack per thread, counted.
//!
//! ```text
//! --- threadz 1 ---
//! --- Thread 7f794ab90940 (name: main/14748) stack: ---
//!   PC:  0x00bc8f1c: helper(arg *)
//!   0x0040be31: main
//! --- Thread 7f7948978700 (name: thread3/14759) stack: ---
//!   [same as previous thread]
//! --- Memory map: ---
//! ```

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::build::{Builder, RawSample};
use super::text::{Lines, hex_addresses, is_memory_map_sentinel, is_space_or_comment};
use crate::Profile;
use crate::hash::FastMap;

static THREAD: LazyLock<Regex> = re!(r"--- Thread ([0-9A-Fa-f]+) \(name: (.*)/([0-9]+)\) stack: ---");

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    static THREADZ: LazyLock<Regex> = re!(r"--- threadz [0-9]+ ---");
    let mut lines = Lines::new(data);
    while lines.scan() && is_space_or_comment(lines.text()) {}
    let mut line = lines.text().to_string();
    if THREADZ.is_match(&line) {
        // Skip the notes before the first thread.
        while lines.scan() {
            line = lines.text().to_string();
            if is_memory_map_sentinel(&line) || line.starts_with('-') {
                break;
            }
        }
    } else if !THREAD.is_match(&line) {
        return Err(Fail::Unrecognized);
    }

    let mut p = Builder::new(&[("thread", "count")], Some(("thread", "count")), 1);
    let mut seen = FastMap::default();
    while !is_memory_map_sentinel(&line) {
        if line.starts_with("---- no stack trace for") {
            break;
        }
        if !THREAD.is_match(&line) {
            return Err(Fail::Unrecognized);
        }
        let addrs;
        (line, addrs) = stack(&mut lines)?;
        if addrs.is_empty() {
            // Same as the previous thread: count it once more.
            if let Some(s) = p.samples.last_mut() {
                s.values[0] = s.values[0].wrapping_add(1);
            }
            continue;
        }
        let locations = addrs
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                // Return addresses (all but the leaf) step back onto the call.
                let a = if i > 0 { a.wrapping_sub(1) } else { a };
                p.location(&mut seen, a)
            })
            .collect();
        p.samples.push(RawSample {
            locations,
            values: vec![1],
            bytes: None,
        });
    }
    p.additional_sections(&mut lines)?;
    p.cleanup_duplicate_locations();
    p.finish()
}

/// Reads one thread's addresses up to the next `---` line, which it returns;
/// no addresses for a thread marked "same as previous thread".
fn stack(lines: &mut Lines<'_>) -> Result<(String, Vec<u64>), Fail> {
    let mut line = String::new();
    let mut same = false;
    let mut addrs = Vec::new();
    while lines.scan() {
        line = lines.text().trim().to_string();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("---") {
            break;
        }
        if line.contains("same as previous thread") {
            same = true;
            continue;
        }
        addrs.extend(hex_addresses(&line).map_err(|e| format!("line {}: {e}", lines.number()))?);
    }
    lines.check()?;
    if same {
        addrs.clear();
    }
    Ok((line, addrs))
}
