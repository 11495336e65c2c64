//! Go's `debug=1` count profiles: `goroutine` and `threadcreate` as
//! `/debug/pprof/goroutine?debug=1` serves them.
//!
//! ```text
//! goroutine profile: total 7
//! 5 @ 0x44cb3 0x45045 0x461e0
//! #   0x44cb2   runtime.gopark+0x12   /usr/lib/go/src/runtime/proc.go:363
//! ```
//!
//! The `#` lines (tab-separated symbols, labels) are comments to pprof: it reads the counts
//! and addresses, and so does sonde.

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::build::{Builder, RawSample};
use super::text::{Lines, is_space_or_comment, parse_int_any_base, parse_uint_any_base};
use crate::Profile;
use crate::hash::FastMap;

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    static START: LazyLock<Regex> = re!(r"\A([^\t\n\f\r ]+) profile: total [0-9]+\z");
    static COUNT: LazyLock<Regex> = re!(r"\A([0-9]+) @(( 0x[0-9a-f]+)+)\z");
    let mut lines = Lines::new(data);
    while lines.scan() && is_space_or_comment(lines.text()) {}
    lines.check()?;
    let Some(c) = START.captures(lines.text()) else {
        return Err(Fail::Unrecognized);
    };
    let kind = c[1].to_string();
    let mut p = Builder::new(&[(&kind, "count")], Some((&kind, "count")), 1);
    let mut seen = FastMap::default();
    while lines.scan() {
        let line = lines.text();
        if is_space_or_comment(line) {
            continue;
        }
        if line.starts_with("---") {
            break;
        }
        let malformed = || Fail::Malformed(format!("line {}: {line:?} is not `N @ 0x... 0x...`", lines.number()));
        let c = COUNT.captures(line).ok_or_else(malformed)?;
        let n = parse_int_any_base(&c[1]).ok_or_else(malformed)?;
        let mut locations = Vec::new();
        for pc in c[2].split_ascii_whitespace() {
            let pc = parse_uint_any_base(pc).ok_or_else(malformed)?;
            // Return addresses: step back onto the call instruction.
            locations.push(p.location(&mut seen, pc.wrapping_sub(1)));
        }
        p.samples.push(RawSample {
            locations,
            values: vec![n],
            bytes: None,
        });
    }
    lines.check()?;
    p.additional_sections(&mut lines)?;
    p.finish()
}
