//! The reading primitives pprof's legacy parsers are built on, with Go's exact
//! behaviour: lines as `bufio.Scanner` yields them, `strconv`'s number syntax,
//! hexadecimal address lists and Go's float-to-integer conversion.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::Fail;

/// Longest line `bufio.Scanner` accepts with its default buffer, in bytes
/// (without the newline).
const MAX_LINE: usize = 64 * 1024 - 1;

/// Lines of a text, one at a time, as Go's `bufio.Scanner` with `ScanLines`
/// gives them: split at `\n`, a trailing `\r` dropped, no empty last line,
/// lines longer than 64 KiB refused. Invalid UTF-8 reads as U+FFFD.
pub(super) struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    text: Cow<'a, str>,
    number: usize,
    err: Option<Fail>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Lines {
            data,
            pos: 0,
            text: Cow::Borrowed(""),
            number: 0,
            err: None,
        }
    }

    /// Advances to the next line; false at the end or after an error. At the
    /// end the current line becomes empty; after an error it stays as it was.
    pub(super) fn scan(&mut self) -> bool {
        if self.err.is_some() {
            return false;
        }
        if self.pos >= self.data.len() {
            self.text = Cow::Borrowed("");
            return false;
        }
        let rest = &self.data[self.pos..];
        let (line, advance) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        if line.len() > MAX_LINE {
            self.err = Some(Fail::Malformed(format!(
                "line {} is longer than {MAX_LINE} bytes, the longest line pprof reads",
                self.number + 1
            )));
            return false;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.text = String::from_utf8_lossy(line);
        self.pos += advance;
        self.number += 1;
        true
    }

    /// The current line (empty before the first and after the last).
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The number of the current line, from 1.
    pub(super) fn number(&self) -> usize {
        self.number
    }

    /// The error that stopped scanning, if any.
    pub(super) fn check(&self) -> Result<(), Fail> {
        match &self.err {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// Whether a line is blank or a `#` comment.
pub(super) fn is_space_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Whether a line marks the start of the memory map section.
pub(super) fn is_memory_map_sentinel(line: &str) -> bool {
    line.contains("--- Memory map: ---") || line.contains("MAPPED_LIBRARIES:")
}

/// Compiles one of the parsers' built-in regular expressions.
pub(super) fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in regular expression")
}

/// Every `0x...` number in `s`, as pprof extracts stack addresses.
pub(super) fn hex_addresses(s: &str) -> Result<Vec<u64>, String> {
    static HEX: LazyLock<Regex> = re!(r"0x[0-9a-f]+");
    HEX.find_iter(s)
        .map(|m| {
            u64::from_str_radix(&m.as_str()[2..], 16)
                .map_err(|_| format!("address {} does not fit in 64 bits", m.as_str()))
        })
        .collect()
}

/// Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then decimal, `0x`
/// hexadecimal, `0o`/`0` octal or `0b` binary digits, `_` between digits.
pub(super) fn parse_int_any_base(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let n = parse_uint_any_base(digits)?;
    if neg {
        if n > 1 << 63 {
            None
        } else {
            Some((n as i64).wrapping_neg())
        }
    } else {
        i64::try_from(n).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(super) fn parse_uint_any_base(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let lower = |c: u8| c | 0x20;
    let (base, body): (u64, &[u8]) = if b[0] == b'0' {
        match (b.len() >= 3).then(|| lower(b[1])) {
            Some(b'b') => (2, &b[2..]),
            Some(b'o') => (8, &b[2..]),
            Some(b'x') => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in body {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            _ if lower(c).is_ascii_lowercase() => lower(c) - b'a' + 10,
            _ => return None,
        };
        if u64::from(d) >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(u64::from(d))?;
    }
    if underscores && !underscores_ok(b) {
        return None;
    }
    Some(n)
}

/// Go's rule for `_` in number literals: only between digits, or between a
/// base prefix and a digit.
fn underscores_ok(s: &[u8]) -> bool {
    let lower = |c: u8| c | 0x20;
    // What came last: b'^' the start, b'0' a digit or prefix, b'_', b'!' other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    for &c in &s[i..] {
        if c.is_ascii_digit() || hex && (b'a'..=b'f').contains(&lower(c)) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `int64(f)` on amd64: truncation toward zero, and the "integer
/// indefinite" value `i64::MIN` for NaN and values out of range.
pub(super) fn go_int64(f: f64) -> i64 {
    if f.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(parse_int_any_base("10"), Some(10));
        assert_eq!(parse_int_any_base("010"), Some(8));
        assert_eq!(parse_int_any_base("0x1F"), Some(31));
        assert_eq!(parse_int_any_base("0"), Some(0));
        assert_eq!(parse_int_any_base("-0b11"), Some(-3));
        assert_eq!(parse_int_any_base("1_000"), Some(1000));
        assert_eq!(parse_int_any_base("0x_1"), Some(1));
        assert_eq!(parse_int_any_base("1__0"), None);
        assert_eq!(parse_int_any_base("_1"), None);
        assert_eq!(parse_int_any_base("09"), None);
        assert_eq!(parse_int_any_base("0x"), None);
        assert_eq!(parse_int_any_base(""), None);
        assert_eq!(parse_int_any_base("-"), None);
        assert_eq!(parse_int_any_base("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int_any_base("9223372036854775808"), None);
        assert_eq!(parse_int_any_base("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int_any_base("1 000"), None);
    }

    #[test]
    fn lines_as_go_scans_them() {
        let mut l = Lines::new(b"a\r\n\nb");
        let mut got = Vec::new();
        while l.scan() {
            got.push(l.text().to_string());
        }
        assert_eq!(got, ["a", "", "b"]);
        assert_eq!(l.text(), "");
        let long = vec![b'x'; MAX_LINE + 1];
        let mut l = Lines::new(&long);
        assert!(!l.scan());
        assert!(l.check().is_err());
    }

    #[test]
    fn floats_convert_as_on_amd64() {
        assert_eq!(go_int64(2.9), 2);
        assert_eq!(go_int64(-2.9), -2);
        assert_eq!(go_int64(f64::NAN), i64::MIN);
        assert_eq!(go_int64(1e19), i64::MIN);
    }
}
