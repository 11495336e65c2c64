//! Contention text: gperftools' contentionz and Go's `debug=1` mutex and block
//! profiles.
//!
//! ```text
//! --- contentionz 1 ---
//! cycles/second = 3201000000
//! sampling period = 100
//! ms since reset = 16502830
//! discarded samples = 0
//!   100  10 @ 0x508d9b 0x508e1c
//! ```
//!
//! Each sample gives the delay in cycles, then the number of contentions;
//! pprof turns cycles into nanoseconds and multiplies both by the sampling
//! period.

use std::sync::LazyLock;

use regex::Regex;

use super::Fail;
use super::build::{Builder, RawSample};
use super::text::{Lines, go_int64, hex_addresses, is_space_or_comment, parse_int_any_base};
use crate::Profile;
use crate::hash::FastMap;

pub(super) fn parse(data: &[u8]) -> Result<Profile, Fail> {
    let mut lines = Lines::new(data);
    if !lines.scan() {
        lines.check()?;
        return Err(Fail::Unrecognized);
    }
    let first = lines.text();
    if !["--- contentionz ", "--- mutex:", "--- contention:"]
        .iter()
        .any(|h| first.starts_with(h))
    {
        return Err(Fail::Unrecognized);
    }
    let mut p = Builder::new(
        &[("contentions", "count"), ("delay", "nanoseconds")],
        Some(("contentions", "count")),
        1,
    );
    let mut cpu_hz: i64 = 0;
    // `name = value` attributes, up to the first line that is not one.
    while lines.scan() {
        let line = lines.text().trim();
        if is_space_or_comment(line) {
            continue;
        }
        if line.starts_with("---") {
            break;
        }
        let Some((name, value)) = line.split_once('=') else {
            break;
        };
        let value = value.trim();
        let number = || parse_int_any_base(value).ok_or(Fail::Unrecognized);
        match name.trim() {
            "cycles/second" => cpu_hz = number()?,
            "sampling period" => p.period = number()?,
            "ms since reset" => p.duration_nanos = number()?.wrapping_mul(1_000_000),
            "discarded samples" => {}
            // Java's contention profiles have `format` and `resolution`.
            _ => return Err(Fail::Unrecognized),
        }
    }
    lines.check()?;

    let mut seen = FastMap::default();
    loop {
        let line = lines.text().trim();
        if line.starts_with("---") {
            break;
        }
        if !is_space_or_comment(line) {
            let (values, addrs) = sample(line, p.period, cpu_hz)?;
            let locations = p.call_sites(&mut seen, addrs);
            p.samples.push(RawSample {
                locations,
                values,
                bytes: None,
            });
        }
        if !lines.scan() {
            break;
        }
    }
    lines.check()?;
    p.additional_sections(&mut lines)?;
    p.finish()
}

/// One sample line: `[contentions, delay]` and the stack. A line that is not a
/// sample means this is not a contention profile.
fn sample(line: &str, period: i64, cpu_hz: i64) -> Result<(Vec<i64>, Vec<u64>), Fail> {
    static SAMPLE: LazyLock<Regex> = re!(r"([0-9]+) *([0-9]+) @([ x0-9a-f]*)");
    let c = SAMPLE.captures(line).ok_or(Fail::Unrecognized)?;
    let number = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| Fail::Malformed(format!("malformed sample {line:?}: {s} does not fit in 64 bits")))
    };
    let (mut delay, mut count) = (number(&c[1])?, number(&c[2])?);
    if period > 0 {
        if cpu_hz > 0 {
            let ghz = cpu_hz as f64 / 1e9;
            delay = go_int64(delay as f64 * period as f64 / ghz);
        }
        count = count.wrapping_mul(period);
    }
    let addrs = hex_addresses(&c[3]).map_err(|e| format!("malformed sample {line:?}: {e}"))?;
    Ok((vec![count, delay], addrs))
}
