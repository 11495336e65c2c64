//! Units of measurement and how values print: `1.50s`, `10.24MB`, `  100%`.
//!
//! Scaling and formatting follow `go tool pprof` exactly (memory in 1024-based
//! units, two decimals with a trailing `.00` dropped, percentages with at least two
//! significant digits) so that sonde's reports can be compared with Go's digit by
//! digit.

use crate::model::ValueType;

struct Unit {
    name: &'static str,
    aliases: &'static [&'static str],
    factor: f64,
}

struct UnitType {
    default: (&'static str, f64),
    units: &'static [Unit],
}

const UNIT_TYPES: &[UnitType] = &[
    UnitType {
        default: ("B", 1.0),
        units: &[
            Unit {
                name: "B",
                aliases: &["b", "byte"],
                factor: 1.0,
            },
            Unit {
                name: "kB",
                aliases: &["kb", "kbyte", "kilobyte"],
                factor: (1u64 << 10) as f64,
            },
            Unit {
                name: "MB",
                aliases: &["mb", "mbyte", "megabyte"],
                factor: (1u64 << 20) as f64,
            },
            Unit {
                name: "GB",
                aliases: &["gb", "gbyte", "gigabyte"],
                factor: (1u64 << 30) as f64,
            },
            Unit {
                name: "TB",
                aliases: &["tb", "tbyte", "terabyte"],
                factor: (1u64 << 40) as f64,
            },
            Unit {
                name: "PB",
                aliases: &["pb", "pbyte", "petabyte"],
                factor: (1u64 << 50) as f64,
            },
        ],
    },
    UnitType {
        default: ("s", 1e9),
        units: &[
            Unit {
                name: "ns",
                aliases: &["ns", "nanosecond"],
                factor: 1.0,
            },
            Unit {
                name: "us",
                aliases: &["μs", "us", "microsecond"],
                factor: 1e3,
            },
            Unit {
                name: "ms",
                aliases: &["ms", "millisecond"],
                factor: 1e6,
            },
            Unit {
                name: "s",
                aliases: &["s", "sec", "second"],
                factor: 1e9,
            },
            Unit {
                name: "hrs",
                aliases: &["hour", "hr"],
                factor: 3600e9,
            },
        ],
    },
    UnitType {
        default: ("GCU", 1.0),
        units: &[
            Unit {
                name: "n*GCU",
                aliases: &["nanogcu"],
                factor: 1e-9,
            },
            Unit {
                name: "u*GCU",
                aliases: &["microgcu"],
                factor: 1e-6,
            },
            Unit {
                name: "m*GCU",
                aliases: &["milligcu"],
                factor: 1e-3,
            },
            Unit {
                name: "GCU",
                aliases: &["gcu"],
                factor: 1.0,
            },
            Unit {
                name: "k*GCU",
                aliases: &["kilogcu"],
                factor: 1e3,
            },
            Unit {
                name: "M*GCU",
                aliases: &["megagcu"],
                factor: 1e6,
            },
            Unit {
                name: "G*GCU",
                aliases: &["gigagcu"],
                factor: 1e9,
            },
            Unit {
                name: "T*GCU",
                aliases: &["teragcu"],
                factor: 1e12,
            },
            Unit {
                name: "P*GCU",
                aliases: &["petagcu"],
                factor: 1e15,
            },
        ],
    },
];

impl UnitType {
    fn sniff(&self, unit: &str) -> Option<&Unit> {
        let mut u = unit.to_lowercase();
        // Byte length, as pprof measures it.
        if u.len() > 2 && u.ends_with('s') {
            u.pop();
        }
        self.units.iter().find(|x| x.aliases.contains(&u.as_str()))
    }

    fn auto_scale(&self, v: f64) -> Option<(f64, &'static str)> {
        let mut best: Option<&Unit> = None;
        for u in self.units {
            if u.factor >= best.map_or(0.0, |b| b.factor) && v / u.factor >= 1.0 {
                best = Some(u);
            }
        }
        best.map(|u| (v / u.factor, u.name))
    }

    fn convert(&self, value: i64, from: &str, to: &str) -> Option<(f64, &'static str)> {
        let from = self.sniff(from)?;
        let v = value as f64 * from.factor;
        if to == "minimum" || to == "auto" {
            return Some(self.auto_scale(v).unwrap_or((v / self.default.1, self.default.0)));
        }
        Some(match self.sniff(to) {
            Some(t) => (v / t.factor, t.name),
            None => (v / self.default.1, self.default.0),
        })
    }
}

/// Converts `value` from unit `from` to unit `to` and returns the number and the
/// unit to print after it. `to` may be `minimum` or `auto` to pick the largest unit
/// in which the value is at least 1. Counts and unknown units print bare (the unit
/// is empty).
pub fn scale(value: i64, from: &str, to: &str) -> (f64, String) {
    if value < 0 && value != i64::MIN {
        let (v, u) = scale(-value, from, to);
        return (-v, u);
    }
    for ut in UNIT_TYPES {
        if let Some((v, u)) = ut.convert(value, from, to) {
            return (v, u.to_string());
        }
    }
    match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to.to_string()),
    }
}

/// Formats `value` (in `from` units) in `to` units the way pprof prints values:
/// two decimals, a trailing `.00` dropped, `0` for zero.
pub fn scaled_label(value: i64, from: &str, to: &str) -> String {
    let (v, u) = scale(value, from, to);
    let s = format!("{v:.2}");
    let s = s.strip_suffix(".00").unwrap_or(&s);
    if s == "0" || s == "-0" {
        return "0".to_string();
    }
    format!("{s}{u}")
}

/// Formats a value in its most readable unit (`auto`).
pub fn label(value: i64, unit: &str) -> String {
    scaled_label(value, unit, "auto")
}

/// `value` as a percentage of `total`, formatted as pprof does: `  100%`, `12.34%`,
/// ` 0.5%`, `0.012%`.
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total != 0 {
        (value as f64 / total as f64).abs() * 100.0
    } else {
        0.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".to_string()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", go_format_g(ratio, 2))
    }
}

/// Formats `v` like Go's `%.{prec}g`: `prec` significant digits, trailing zeros
/// removed, exponent form (`1.2e-05`) for very small or large magnitudes.
pub fn go_format_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Round to `prec` significant digits exactly, then read digits and exponent.
    let e_form = format!("{:.*e}", prec - 1, v.abs());
    let (mantissa, exp) = e_form.split_once('e').unwrap_or((&e_form, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let dp = exp + 1; // decimal point position relative to the digits
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let x = dp - 1;
    if x < -4 || x >= eprec {
        let p = (prec as i32).min(nd);
        let mut s = String::from(sign);
        s.push_str(&digits[..1]);
        if p > 1 {
            s.push('.');
            s.push_str(&digits[1..p as usize]);
        }
        let (es, ev) = if x < 0 { ('-', -x) } else { ('+', x) };
        s.push_str(&format!("e{es}{ev:02}"));
        return s;
    }
    let p = if prec as i32 > dp { nd } else { prec as i32 };
    let decimals = (p - dp).max(0) as usize;
    format!("{sign}{:.*}", decimals, v.abs())
}

/// Whether values of the two types can be added together: same kind (ignoring a
/// trailing `s`) and units of the same dimension.
pub fn compatible(a: &ValueType, b: &ValueType) -> bool {
    let (ta, tb) = (
        a.ty.strip_suffix('s').unwrap_or(&a.ty),
        b.ty.strip_suffix('s').unwrap_or(&b.ty),
    );
    if ta != tb {
        return false;
    }
    if a.unit == b.unit {
        return true;
    }
    UNIT_TYPES
        .iter()
        .any(|ut| ut.sniff(&a.unit).is_some() && ut.sniff(&b.unit).is_some())
}

/// The finest of several compatible value types (e.g. `nanoseconds` out of
/// `nanoseconds` and `milliseconds`), used to bring profiles to common units before
/// merging. `None` when there is nothing to reconcile.
pub fn common_value_type(types: &[&ValueType]) -> Result<Option<ValueType>, String> {
    if types.len() <= 1 {
        return Ok(None);
    }
    let mut min = types[0];
    for t in &types[1..] {
        if !compatible(min, t) {
            return Err(format!("{min} vs {t}"));
        }
        if scale(1, &t.unit, &min.unit).0 < 1.0 {
            min = t;
        }
    }
    Ok(Some(min.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_pprof() {
        assert_eq!(scaled_label(1_760_000_000, "nanoseconds", "s"), "1.76s");
        assert_eq!(scaled_label(10_000_000, "nanoseconds", "ms"), "10ms");
        assert_eq!(scaled_label(0, "nanoseconds", "s"), "0");
        assert_eq!(scaled_label(10_737_418, "bytes", "MB"), "10.24MB");
        assert_eq!(scaled_label(512 * 1024, "bytes", "minimum"), "512kB");
        assert_eq!(scaled_label(1247, "count", "minimum"), "1247");
        assert_eq!(scaled_label(-1_500_000_000, "nanoseconds", "s"), "-1.50s");
        assert_eq!(label(240_360_000_000, "nanoseconds"), "240.36s");
        assert_eq!(scaled_label(3, "microseconds", "minimum"), "3us");
    }

    #[test]
    fn percentages_match_go() {
        assert_eq!(percentage(100, 100), "  100%");
        assert_eq!(percentage(7273, 10000), "72.73%");
        assert_eq!(percentage(5, 1000), "  0.5%");
        assert_eq!(percentage(0, 1000), "    0%");
        assert_eq!(percentage(12, 100_000), "0.012%");
        assert_eq!(percentage(12, 100_000_000), "1.2e-05%");
        assert_eq!(percentage(996, 100_000), "    1%");
        assert_eq!(percentage(1, 0), "    0%");
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(go_format_g(0.25, 2), "0.25");
        assert_eq!(go_format_g(0.1, 2), "0.1");
        assert_eq!(go_format_g(0.00012, 2), "0.00012");
        assert_eq!(go_format_g(123.0, 2), "1.2e+02");
        assert_eq!(go_format_g(12.0, 2), "12");
    }

    #[test]
    fn common_types_pick_finest() {
        let ns = ValueType::new("cpu", "nanoseconds");
        let ms = ValueType::new("cpu", "milliseconds");
        assert_eq!(common_value_type(&[&ms, &ns]).unwrap(), Some(ns.clone()));
        let b = ValueType::new("cpu", "bytes");
        assert!(common_value_type(&[&ns, &b]).is_err());
    }
}
