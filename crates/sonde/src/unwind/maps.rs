//! Which memory a stack walk may read: a snapshot of the process's readable and
//! writable mappings, taken from `/proc/self/maps` outside the signal handler.
//!
//! A thread's stack is one mapping; everything between the interrupted stack
//! pointer and the end of the mapping that contains it is the live stack of the
//! running thread and is safe to read. Unwinders read nothing else on the stack.

use std::io;

/// A sorted set of address ranges, searchable without allocating.
#[derive(Debug, Default)]
pub(crate) struct Regions {
    /// `[start, end)` pairs, sorted by start, not overlapping.
    ranges: Box<[(u64, u64)]>,
    /// The main thread's stack (`[stack]`), which grows below its recorded start.
    main_stack: Option<(u64, u64)>,
}

/// How far below its recorded start the main thread's stack may have grown.
const MAIN_STACK_GROWTH: u64 = 256 << 20;

impl Regions {
    /// Reads the current mappings of this process.
    pub(crate) fn snapshot() -> io::Result<Regions> {
        let text = std::fs::read_to_string("/proc/self/maps")?;
        Ok(Self::parse(&text))
    }

    /// Parses `/proc/<pid>/maps` text, keeping writable mappings (stacks are).
    pub(crate) fn parse(text: &str) -> Regions {
        let mut ranges = Vec::new();
        let mut main_stack = None;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((s, e)) = range.split_once('-') else { continue };
            let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
                continue;
            };
            if !perms.starts_with("rw") {
                continue;
            }
            if line.ends_with("[stack]") {
                main_stack = Some((s, e));
            }
            ranges.push((s, e));
        }
        ranges.sort_unstable();
        Regions {
            ranges: ranges.into_boxed_slice(),
            main_stack,
        }
    }

    /// The end (highest address, exclusive) of the stack that contains `sp`.
    /// Signal-safe: no allocation, no locks.
    pub(crate) fn stack_end(&self, sp: u64) -> Option<u64> {
        // Binary search for the last range starting at or below `sp`.
        let (mut lo, mut hi) = (0usize, self.ranges.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.ranges.get(mid) {
                Some(&(start, _)) if start <= sp => lo = mid + 1,
                _ => hi = mid,
            }
        }
        if lo > 0 {
            if let Some(&(start, end)) = self.ranges.get(lo - 1) {
                if start <= sp && sp < end {
                    return Some(end);
                }
            }
        }
        match self.main_stack {
            Some((start, end)) if sp < end && sp >= start.saturating_sub(MAIN_STACK_GROWTH) => Some(end),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stack_of_the_current_thread() {
        let regions = Regions::snapshot().expect("maps");
        let local = 0u64;
        let sp = &local as *const u64 as u64;
        let end = regions.stack_end(sp).expect("the current stack is mapped");
        assert!(end > sp && end - sp < 64 << 20, "{sp:#x}..{end:#x}");
    }

    #[test]
    fn parses_maps_text() {
        let r = Regions::parse(
            "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n\
             7ffd4e000000-7ffd4e021000 rw-p 00000000 00:00 0 [stack]\n\
             7f0000000000-7f0000100000 rw-p 00000000 00:00 0\n",
        );
        assert_eq!(r.stack_end(0x7f0000000010), Some(0x7f0000100000));
        assert_eq!(r.stack_end(0x00400010), None, "code is not a stack");
        assert_eq!(
            r.stack_end(0x7ffd4d000000),
            Some(0x7ffd4e021000),
            "main stack grew down"
        );
        assert_eq!(r.stack_end(0x10), None);
    }
}
