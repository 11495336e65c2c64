//! The statistics behind the harness's stopping rule and `sonde benchstat`:
//! medians with distribution-free confidence intervals (order statistics), the
//! Mann-Whitney U test, geometric means.

/// The median of `xs` (sorted or not); NaN for an empty slice.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

fn median_sorted(v: &[f64]) -> f64 {
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A median with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The sample median.
    pub center: f64,
    /// Lower end of the confidence interval (−∞ when there are too few values).
    pub lo: f64,
    /// Upper end of the confidence interval (+∞ when there are too few values).
    pub hi: f64,
    /// Number of values.
    pub n: usize,
}

impl Summary {
    /// Half the interval's width relative to the center (∞ when unknown).
    pub fn rel_half_width(&self) -> f64 {
        if self.center == 0.0 {
            return if self.lo == self.hi { 0.0 } else { f64::INFINITY };
        }
        ((self.hi - self.lo) / 2.0 / self.center).abs()
    }

    /// The larger distance from the center to an end, relative to the center, as
    /// benchstat prints it (`± 2%`).
    pub fn rel_spread(&self) -> f64 {
        if self.center == 0.0 {
            return if self.lo == self.hi { 0.0 } else { f64::INFINITY };
        }
        ((self.center - self.lo).max(self.hi - self.center) / self.center).abs()
    }
}

/// The median of `xs` with a distribution-free confidence interval at
/// `confidence` (e.g. 0.95): the narrowest pair of order statistics `x(k)`,
/// `x(n+1-k)` that covers the median with at least that probability under
/// Binomial(n, ½). With too few values for the confidence, the interval is
/// infinite.
pub fn summarize(xs: &[f64], confidence: f64) -> Summary {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let center = median_sorted(&v);
    // The largest k with P(k <= B <= n-k) >= confidence, B ~ Binomial(n, 1/2).
    let pmf = binomial_half_pmf(n);
    let mut best = None;
    for k in 1..=n / 2 {
        let coverage: f64 = pmf[k..=n - k].iter().sum();
        if coverage >= confidence {
            best = Some(k);
        } else {
            break;
        }
    }
    match best {
        // Order statistics x(k) and x(n+1-k), 1-based: B in [k, n-k] means at
        // least k values below the median and at least k above.
        Some(k) => Summary {
            center,
            lo: v[k - 1],
            hi: v[n - k],
            n,
        },
        None => Summary {
            center,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            n,
        },
    }
}

/// P(B = i) for B ~ Binomial(n, 1/2), i = 0..=n, computed in log space.
fn binomial_half_pmf(n: usize) -> Vec<f64> {
    let mut log_c = 0.0f64; // log C(n, 0)
    let log_half_n = n as f64 * 0.5f64.ln();
    let mut out = Vec::with_capacity(n + 1);
    for i in 0..=n {
        if i > 0 {
            log_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        out.push((log_c + log_half_n).exp());
    }
    out
}

/// The order statistics bounding the confidence interval of the median of `n`
/// values, as golang.org/x/perf's benchstat chooses them: 1-based `(lo, hi)`,
/// where `lo = 0` or `hi = n + 1` stand for an unbounded end (too few values
/// for the confidence).
///
/// The number of values below the population median follows Binomial(n, ½).
/// Up to 30 values, the interval grows from the distribution's (lower) mode,
/// one order statistic at a time on whichever side is more probable (the lower
/// side on a tie), until it covers `confidence`; so it can be one order
/// statistic longer below the median than above. Beyond 30 values, the normal
/// approximation with continuity correction gives a symmetric band, shortened
/// by one above if that still covers `confidence`.
pub fn median_interval_orders(n: usize, confidence: f64) -> (usize, usize) {
    if confidence >= 1.0 {
        return (0, n + 1);
    }
    if n <= 30 {
        // Exact: C(n, k) is a whole number below 2^53 and 2^-n a power of two,
        // so equally probable counts compare equal.
        let half_n = 0.5f64.powi(n as i32);
        let at = |k: isize| {
            if k < 0 || k > n as isize {
                0.0
            } else {
                binomial(n, k as usize) * half_n
            }
        };
        // [l, r): the counts of values below the median summed so far.
        let x = (n + 1).div_ceil(2) as isize - 1;
        let (mut l, mut r) = (x, x + 1);
        let mut covered = at(x);
        let (mut below, mut above) = (at(l - 1), at(r));
        while covered < confidence && (below > 0.0 || above > 0.0) {
            let lower_first = if below == above {
                // Equally probable counts k and n - k: benchstat's weights for
                // 21 to 30 values come from lgamma and differ in the last bit.
                lower_wins_tie(n, (l - 1) as usize)
            } else {
                below > above
            };
            if lower_first {
                covered += below;
                l -= 1;
                below = at(l - 1);
            } else {
                covered += above;
                r += 1;
                above = at(r);
            }
        }
        return (l.max(0) as usize, (r as usize).min(n + 1));
    }
    let nf = n as f64;
    let (mu, sigma) = (nf / 2.0, (nf / 4.0).sqrt());
    let lo_edge = mu + sigma * normal_quantile((1.0 - confidence) / 2.0);
    let hi_edge = 2.0 * mu - lo_edge;
    // Round out to the half-integers that separate the binomial's points.
    let l = (lo_edge - 0.5).floor() + 1.0;
    let mut r = (hi_edge - 0.5).ceil() + 1.0;
    let cover = |l: f64, r: f64| normal_cdf((r - 0.5 - mu) / sigma) - normal_cdf((l - 0.5 - mu) / sigma);
    let full = cover(l, r);
    let shorter = cover(l, r - 1.0);
    if shorter >= confidence && shorter < full {
        r -= 1.0;
    }
    (l.max(0.0) as usize, (r.min(nf + 1.0)) as usize)
}

/// Whether benchstat, growing the median's interval over `n` values, takes the
/// lower of the equally probable counts `k` and `n - k` (`k < n / 2`) first.
///
/// In exact arithmetic it always does (it prefers the lower side on a tie). But
/// go-moremath computes C(n, k) above 20 as exp(lgamma(n + 1) - lgamma(k + 1) -
/// lgamma(n - k + 1)), so C(n, k) and C(n, n - k) can differ in the last bit,
/// and the larger wins. The comparison for 21 to 30 values, as Go evaluates it
/// (`<`: C(n, k) is the smaller), index k:
const BENCHSTAT_BINOMIAL_TIES: [&str; 10] = [
    "==<=<=><>==",     // 21
    "==<=<=><>=<",     // 22
    "==<=<=><>=>=",    // 23
    "==<=<=><>=><",    // 24
    "==<=<=><>=<=>",   // 25
    "==<=<=><>=<==",   // 26
    "==<=<=><>=<<=<",  // 27
    "==<=<=><>=<=<<",  // 28
    "==<=<<<<>=<==<=", // 29
    "==<=<<<<<=<==<<", // 30
];

fn lower_wins_tie(n: usize, k: usize) -> bool {
    match n.checked_sub(21).and_then(|i| BENCHSTAT_BINOMIAL_TIES.get(i)) {
        Some(row) => row.as_bytes().get(k) != Some(&b'<'),
        None => true,
    }
}

/// The median of `xs` with its confidence interval at `confidence` as
/// golang.org/x/perf's benchstat computes it (see [`median_interval_orders`]):
/// an end is infinite when there are too few values for the confidence (at
/// 95%: the lower end below 6 values, both ends below 5).
///
/// [`summarize`] is the harness's own, symmetric, interval.
pub fn median_interval(xs: &[f64], confidence: f64) -> Summary {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let (l, r) = median_interval_orders(n, confidence);
    Summary {
        center: median_sorted(&v),
        lo: if l >= 1 { v[l - 1] } else { f64::NEG_INFINITY },
        hi: if r >= 1 && r <= n { v[r - 1] } else { f64::INFINITY },
        n,
    }
}

/// The fewest values that give the median a bounded interval at `confidence`:
/// `Ok(n)`, or `Err(50)` when even 50 values do not (benchstat's "need >= 6
/// samples for confidence interval at level 0.95").
pub fn min_values_for_interval(confidence: f64) -> Result<usize, usize> {
    (2..=50)
        .find(|&n| {
            let (l, r) = median_interval_orders(n, confidence);
            l > 0 && r <= n
        })
        .ok_or(50)
}

/// The smallest two-sided p-value the Mann-Whitney U test can give two samples
/// of `n` values each (when every value of one lies beyond every value of the
/// other): 2 / C(2n, n).
pub fn u_test_min_p(n: usize) -> f64 {
    (2.0 / binomial(2 * n, n)).min(1.0)
}

/// The fewest values per sample at which the U test can reach `alpha`:
/// `Ok(n)`, or `Err(9)` when even 9 do not (benchstat's "need >= 4 samples to
/// detect a difference at alpha level 0.05").
pub fn min_values_for_u_test(alpha: f64) -> Result<usize, usize> {
    (1..=9).find(|&n| u_test_min_p(n) <= alpha).ok_or(9)
}

/// Largest sample for which [`mann_whitney`] uses the exact distribution of U
/// when no value is tied (benchstat's limit).
pub const U_EXACT_LIMIT: usize = 50;

/// Largest sample for which [`mann_whitney`] uses the exact distribution of U
/// when some values are tied (benchstat's limit).
pub const U_EXACT_LIMIT_TIES: usize = 25;

/// How a [`UTest`]'s p-value was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UMethod {
    /// The exact distribution of U given the ties.
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Normal,
    /// Every value of both samples is the same: nothing to test, p = 1.
    AllEqual,
}

/// A two-sided Mann-Whitney U test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UTest {
    /// The probability of a U at least as far from its mean as the one seen,
    /// if both samples come from one distribution.
    pub p: f64,
    /// The U statistic of the first sample: pairs in which its value is the
    /// larger, ties counting ½.
    pub u: f64,
    /// Size of the first sample.
    pub n1: usize,
    /// Size of the second sample.
    pub n2: usize,
    /// How `p` was obtained.
    pub method: UMethod,
}

/// The two-sided p-value of the Mann-Whitney U test that `a` and `b` come from
/// the same distribution (1 when either is empty). See [`mann_whitney`].
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    mann_whitney(a, b).p
}

/// The Mann-Whitney U test of `a` against `b`, as golang.org/x/perf's
/// benchstat runs it: the exact distribution of U when both samples have at
/// most [`U_EXACT_LIMIT`] values and none is tied, or at most
/// [`U_EXACT_LIMIT_TIES`] with ties (the distribution given the ties), else the
/// normal approximation with tie and continuity corrections.
///
/// One deliberate difference: with ties the exact distribution need not be
/// symmetric, and benchstat's doubled tail can exceed 1 (it prints `p=1.333`
/// for 1 against 1, 2); this p-value is capped at 1.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> UTest {
    let (n1, n2) = (a.len(), b.len());
    let mut out = UTest {
        p: 1.0,
        u: 0.0,
        n1,
        n2,
        method: UMethod::AllEqual,
    };
    if n1 == 0 || n2 == 0 {
        return out;
    }
    // The pooled values in order, and the sizes of the groups of equal values.
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut groups = Vec::new();
    let mut rank_sum_a = 0.0;
    let mut i = 0;
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|x| x.0 == all[i].0).count();
        let from_a = all[i..j].iter().filter(|x| x.1).count();
        // Ranks i+1..=j share their average.
        rank_sum_a += from_a as f64 * (i + 1 + j) as f64 / 2.0;
        groups.push(j - i);
        i = j;
    }
    let u = rank_sum_a - (n1 * (n1 + 1)) as f64 / 2.0;
    out.u = u;
    if groups.len() == 1 {
        return out;
    }
    let ties = groups.len() < n1 + n2;
    let limit = if ties { U_EXACT_LIMIT_TIES } else { U_EXACT_LIMIT };
    let pairs = n1 * n2;
    if n1 <= limit && n2 <= limit {
        out.method = UMethod::Exact;
        // Twice U is a whole number.
        let two_u = (2.0 * u).round() as usize;
        let mirrored = 2 * pairs - two_u;
        if two_u == mirrored {
            out.p = 1.0;
            return out;
        }
        let (counts, step) = u_distribution(n1, &groups);
        let total: f64 = counts.iter().sum();
        let tail: f64 = counts[..=two_u.min(mirrored) / step].iter().sum();
        out.p = (2.0 * tail / total).min(1.0);
        return out;
    }
    out.method = UMethod::Normal;
    out.p = u_normal_p(u, n1, n2, &groups);
    out
}

/// The two-sided p-value of U = `u` by the normal approximation, with the
/// variance corrected for the tied `groups` and a continuity correction.
fn u_normal_p(u: f64, n1: usize, n2: usize, groups: &[usize]) -> f64 {
    let pairs = (n1 * n2) as f64;
    let n = (n1 + n2) as f64;
    let tie_term: f64 = groups.iter().map(|&t| (t * t * t - t) as f64).sum();
    let var = pairs * ((n + 1.0) - tie_term / (n * (n - 1.0))) / 12.0;
    let dist = (u - pairs / 2.0).abs();
    // Continuity correction: U moves in steps of ½, the normal does not.
    let z = (dist - 0.5).max(0.0) / var.sqrt();
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// The distribution of U for a first sample of `n1` values among pooled values
/// falling into `groups` of equal values (sizes, in increasing order of value),
/// under the hypothesis that every choice of which `n1` of them belong to the
/// first sample is equally likely: `(counts, step)`, where `counts[k]` is the
/// number of choices with 2U = `k * step` (`step` is 2 without ties, where U is
/// whole).
///
/// Built one group at a time: choosing `r` of a group's `t` values (C(t, r)
/// ways) for the first sample, after `i` first-sample values among the
/// `before` smaller ones, adds `r * (2 * (before - i) + t - r)` to 2U: each
/// chosen value beats the `before - i` smaller second-sample values and ties
/// with the group's `t - r` others.
fn u_distribution(n1: usize, groups: &[usize]) -> (Vec<f64>, usize) {
    let n: usize = groups.iter().sum();
    let n2 = n - n1;
    let step = if groups.iter().all(|&t| t == 1) { 2 } else { 1 };
    let len = 2 * n1 * n2 / step + 1;
    // rows[i][k]: choices of i first-sample values among the values so far
    // with 2U = k * step.
    let mut rows = vec![vec![0.0f64; len]; n1 + 1];
    rows[0][0] = 1.0;
    let mut before = 0;
    for &t in groups {
        // In place, from the largest count down: row j takes from rows below.
        for j in (1..=n1.min(before + t)).rev() {
            let (lower, upper) = rows.split_at_mut(j);
            let row = &mut upper[0];
            for r in 1..=t.min(j) {
                let ways = binomial(t, r);
                let i = j - r;
                if i > before || before - i > n2 {
                    continue;
                }
                let shift = r * (2 * (before - i) + t - r) / step;
                // The largest 2U row i can hold so far.
                let reach = (2 * i * (before - i) / step).min(len - 1);
                if shift > len - 1 {
                    continue;
                }
                let end = reach.min(len - 1 - shift);
                for (k, &c) in lower[i][..=end].iter().enumerate() {
                    if c != 0.0 {
                        row[k + shift] += ways * c;
                    }
                }
            }
        }
        before += t;
    }
    (rows.swap_remove(n1), step)
}

/// C(n, k) as a float.
fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// P(Z ≤ z) for a standard normal Z.
fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The z with P(Z ≤ z) = `p`, by bisection on [`normal_cdf`].
fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The complementary error function to about 1e-15 (relative): below 1, 1 -
/// erf(x) from erf's series of positive terms, erf(x) = 2/√π · e^(-x²) · Σ
/// (2x²)^k x / (1·3·…·(2k+1)); from 1 on, its continued fraction e^(-x²)/√π ·
/// 1/(x + ½/(x + 1/(x + 3/2/(x + …)))), 200 levels deep.
fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
    if x < 1.0 {
        let (mut term, mut sum, mut k) = (x, x, 0.0);
        while term > sum * 1e-17 {
            k += 1.0;
            term *= 2.0 * x * x / (2.0 * k + 1.0);
            sum += term;
        }
        return 1.0 - two_over_sqrt_pi * (-x * x).exp() * sum;
    }
    let mut f = x;
    for k in (1..=200).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    two_over_sqrt_pi / 2.0 * (-x * x).exp() / f
}

/// The geometric mean of positive values (NaN if there are none or any is not
/// positive).
pub fn geomean(xs: &[f64]) -> f64 {
    if xs.is_empty() || xs.iter().any(|&x| x <= 0.0) {
        return f64::NAN;
    }
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_intervals() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // n = 10 at 95%: x(2) and x(9) (coverage 0.979; x(3)..x(8) gives 0.891).
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&xs, 0.95);
        assert_eq!((s.lo, s.center, s.hi), (2.0, 5.5, 9.0));
        // Five values cannot give 95% (coverage of x(1)..x(5) is 0.9375).
        let s = summarize(&xs[..5], 0.95);
        assert!(s.lo.is_infinite() && s.hi.is_infinite());
        let s = summarize(&xs[..6], 0.95);
        assert_eq!((s.lo, s.hi), (1.0, 6.0));
    }

    #[test]
    fn median_intervals_as_benchstat_chooses_them() {
        // (lo, hi) order statistics for n = 1..=60 at 95%, as go-moremath's
        // QuantileCI (benchstat's) returns them; 0 and n + 1 are unbounded.
        let go: [(usize, usize); 60] = [
            (0, 2),
            (0, 3),
            (0, 4),
            (0, 5),
            (0, 5),
            (1, 6),
            (1, 7),
            (1, 7),
            (2, 8),
            (2, 9),
            (2, 9),
            (3, 10),
            (3, 11),
            (3, 11),
            (4, 12),
            (4, 12),
            (5, 13),
            (5, 14),
            (5, 14),
            (6, 15),
            (6, 16),
            (6, 16),
            (7, 17),
            (8, 18),
            (8, 18),
            (8, 19),
            (8, 19),
            (9, 20),
            (9, 20),
            (10, 21),
            (10, 22),
            (10, 22),
            (11, 23),
            (11, 23),
            (12, 24),
            (12, 24),
            (13, 25),
            (13, 26),
            (13, 26),
            (14, 27),
            (14, 27),
            (15, 28),
            (15, 29),
            (15, 29),
            (16, 30),
            (16, 30),
            (17, 31),
            (17, 31),
            (18, 32),
            (18, 32),
            (19, 33),
            (19, 34),
            (19, 34),
            (20, 35),
            (20, 35),
            (21, 36),
            (21, 36),
            (22, 37),
            (22, 38),
            (22, 38),
        ];
        for (i, &want) in go.iter().enumerate() {
            assert_eq!(median_interval_orders(i + 1, 0.95), want, "n = {}", i + 1);
        }
        // Other levels, including the ties benchstat breaks by rounding.
        assert_eq!(median_interval_orders(22, 0.9), (8, 16));
        assert_eq!(median_interval_orders(29, 0.9), (11, 20));
        assert_eq!(median_interval_orders(28, 0.99), (8, 22));
        assert_eq!(median_interval_orders(10, 1.0), (0, 11));

        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = median_interval(&xs, 0.95);
        assert_eq!((s.lo, s.center, s.hi, s.n), (2.0, 5.5, 9.0, 10));
        // Eight values: x(1)..x(7), one longer below than above.
        let s = median_interval(&xs[..8], 0.95);
        assert_eq!((s.lo, s.center, s.hi), (1.0, 4.5, 7.0));
        // Five values: unbounded below; one: both ends.
        let s = median_interval(&xs[..5], 0.95);
        assert_eq!((s.lo, s.hi), (f64::NEG_INFINITY, 5.0));
        let s = median_interval(&xs[..1], 0.95);
        assert!(s.lo.is_infinite() && s.hi.is_infinite() && s.center == 1.0);

        assert_eq!(min_values_for_interval(0.95), Ok(6));
        assert_eq!(min_values_for_interval(0.99), Ok(8));
        assert_eq!(min_values_for_u_test(0.05), Ok(4));
        assert_eq!(min_values_for_u_test(0.01), Ok(5));
        assert_eq!(min_values_for_u_test(1e-9), Err(9));
        assert!((u_test_min_p(5) - 2.0 / 252.0).abs() < 1e-15);
    }

    /// The two-sided p-value by enumerating every choice of which pooled
    /// values form the first sample, U counted pair by pair: benchstat's
    /// definition (twice the lower tail of U, 1 at the center), independent
    /// of `u_distribution`'s recurrence.
    fn brute_force_p(a: &[f64], b: &[f64]) -> f64 {
        let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
        let (n, n1) = (pooled.len(), a.len());
        let u_of = |first: &[f64], second: &[f64]| -> f64 {
            let mut u = 0.0;
            for x in first {
                for y in second {
                    u += if x > y {
                        1.0
                    } else if x == y {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
            u
        };
        let observed = u_of(a, b);
        let pairs = (a.len() * b.len()) as f64;
        if observed == pairs - observed {
            return 1.0;
        }
        let small = observed.min(pairs - observed);
        let (mut total, mut tail) = (0u64, 0u64);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != n1 {
                continue;
            }
            let (first, second): (Vec<f64>, Vec<f64>) = {
                let mut f = Vec::new();
                let mut s = Vec::new();
                for (i, &v) in pooled.iter().enumerate() {
                    if mask & (1 << i) != 0 { f.push(v) } else { s.push(v) }
                }
                (f, s)
            };
            total += 1;
            if u_of(&first, &second) <= small {
                tail += 1;
            }
        }
        (2.0 * tail as f64 / total as f64).min(1.0)
    }

    #[test]
    fn exact_u_distribution_matches_enumeration() {
        // Small samples with and without ties, from a fixed pseudo-random walk.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |levels: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % levels) as f64
        };
        for case in 0..60 {
            let n1 = 1 + case % 7;
            let n2 = 1 + (case * 5 + 3) % 8;
            let levels = [3, 5, 9, 1000][case % 4];
            let shift = (case % 3) as f64;
            let a: Vec<f64> = (0..n1).map(|_| next(levels)).collect();
            let b: Vec<f64> = (0..n2).map(|_| next(levels) + shift).collect();
            let t = mann_whitney(&a, &b);
            if a.iter().chain(&b).all(|&v| v == a[0]) {
                assert_eq!((t.method, t.p), (UMethod::AllEqual, 1.0));
                continue;
            }
            assert_eq!(t.method, UMethod::Exact);
            let want = brute_force_p(&a, &b);
            assert!((t.p - want).abs() < 1e-12, "{a:?} {b:?}: {} vs {want}", t.p);
        }
    }

    #[test]
    fn p_values_as_benchstat_prints_them() {
        let p3 = |a: &[f64], b: &[f64]| format!("{:.3}", mann_whitney_p(a, b));
        // Five runs each at 1000-1004 and 1500-1504 ns/op: every value of one
        // beyond every value of the other, 2 / C(10, 5).
        let old: Vec<f64> = (1000..1005).map(f64::from).collect();
        let new: Vec<f64> = (1500..1505).map(f64::from).collect();
        assert_eq!(p3(&old, &new), "0.008");
        // One tie inside a sample: still exact (the normal approximation
        // says 0.012).
        let tied = [1000.0, 1001.0, 1002.0, 1003.0, 1003.0];
        let t = mann_whitney(&tied, &new);
        assert_eq!((format!("{:.3}", t.p), t.method), ("0.008".to_string(), UMethod::Exact));
        // The example of benchstat's documentation (10 runs each, with ties):
        // `Encode/format=gob-48 ... ~ (p=0.446 n=10)`, json `(p=0.000 n=10)`.
        let gob_old = [
            3069.0, 3075.0, 3069.0, 3067.0, 3207.0, 3064.0, 3064.0, 3058.0, 3059.0, 3062.0,
        ];
        let gob_new = [
            3075.0, 3065.0, 3059.0, 3065.0, 3060.0, 3081.0, 3186.0, 3135.0, 3087.0, 3062.0,
        ];
        assert_eq!(p3(&gob_old, &gob_new), "0.446");
        let json_old = [
            1726.0, 1723.0, 1707.0, 1707.0, 1713.0, 1729.0, 1736.0, 1707.0, 1705.0, 1774.0,
        ];
        let json_new = [
            1423.0, 1416.0, 1411.0, 1413.0, 1412.0, 1426.0, 1422.0, 1424.0, 1447.0, 1425.0,
        ];
        assert_eq!(p3(&json_old, &json_new), "0.000");
        // Larger samples; expected values printed by go-moremath's
        // MannWhitneyUTest (benchstat's), value i of a sample being
        // (i * mul + add) % levels (+ shift).
        let sample = |n: usize, mul: usize, add: usize, levels: usize, shift: f64| -> Vec<f64> {
            (0..n).map(|i| ((i * mul + add) % levels) as f64 + shift).collect()
        };
        for (n1, n2, levels, shift, go, method) in [
            (20, 20, 9, 2.0, 0.017871, UMethod::Exact), // normal: 0.019355
            (25, 25, 30, 4.0, 0.213309, UMethod::Exact),
            (20, 24, 11, 1.0, 0.479712, UMethod::Exact), // normal: 0.477773
            (30, 30, 17, 3.0, 0.023943, UMethod::Normal),
            (26, 26, 40, 6.0, 0.135183, UMethod::Normal),
        ] {
            let t = mann_whitney(&sample(n1, 7, 3, levels, 0.0), &sample(n2, 5, 1, levels, shift));
            assert_eq!(t.method, method, "{n1}+{n2}");
            assert!((t.p - go).abs() < 5e-7, "{n1}+{n2}: {} vs {go}", t.p);
        }
        // Without ties: exact up to 50 values each.
        for (n, go, method) in [
            (40, 0.003148, UMethod::Exact), // normal: 0.003495
            (50, 0.001055, UMethod::Exact), // normal: 0.001209
            (51, 0.001316, UMethod::Normal),
        ] {
            let a: Vec<f64> = (0..n).map(|i| 2.0 * i as f64).collect();
            let b: Vec<f64> = (0..n).map(|i| 2.0 * i as f64 + n as f64 / 2.5 + 1.0).collect();
            let t = mann_whitney(&a, &b);
            assert_eq!(t.method, method, "{n}");
            assert!((t.p - go).abs() < 5e-7, "{n}: {} vs {go}", t.p);
        }
        // All values equal: nothing to test.
        let t = mann_whitney(&[1.0; 10], &[1.0; 10]);
        assert_eq!((t.p, t.method), (1.0, UMethod::AllEqual));
        // Medians apart but U at its center: p = 1.
        assert_eq!(mann_whitney_p(&[1.0, 4.0], &[2.0, 3.0]), 1.0);
        // benchstat prints p=1.333 for 1 against 1, 2 (an asymmetric
        // distribution with ties, doubled); capped here.
        assert_eq!(mann_whitney_p(&[1.0], &[1.0, 2.0]), 1.0);
    }

    #[test]
    fn mann_whitney_matches_tables() {
        // Fully separated samples of 5 and 5: p = 2 / C(10, 5) = 0.00794.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert!((mann_whitney_p(&a, &b) - 2.0 / 252.0).abs() < 1e-12);
        assert!((mann_whitney_p(&b, &a) - 2.0 / 252.0).abs() < 1e-12);
        // Interleaved samples: nothing to see.
        let c = [1.0, 3.0, 5.0, 7.0, 9.0];
        let d = [2.0, 4.0, 6.0, 8.0, 10.0];
        assert!(mann_whitney_p(&c, &d) > 0.5);
        // Identical samples (all tied): p = 1.
        assert_eq!(mann_whitney_p(&[1.0; 10], &[1.0; 10]), 1.0);
        // Large separated samples with ties use the normal approximation.
        let e: Vec<f64> = (0..60).map(|i| (i / 2) as f64).collect();
        let f: Vec<f64> = (0..60).map(|i| 100.0 + (i / 2) as f64).collect();
        assert!(mann_whitney_p(&e, &f) < 1e-10);
    }

    #[test]
    fn exact_and_normal_agree_for_moderate_samples() {
        // n1 = n2 = 10, b shifted by about one standard deviation, no ties.
        let a: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..10).map(|i| i as f64 + 3.5).collect();
        let t = mann_whitney(&a, &b);
        assert_eq!(t.method, UMethod::Exact);
        let approx = u_normal_p(t.u, 10, 10, &[1; 20]);
        assert!(t.p > 0.01 && t.p < 0.1, "{}", t.p);
        assert!((t.p - approx).abs() < 0.005, "{} vs {approx}", t.p);
        // Small samples are where they part: 0.008 exact, 0.012 approximated.
        let t = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 4.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        let approx = u_normal_p(t.u, 5, 5, &[1, 1, 1, 2, 1, 1, 1, 1, 1]);
        assert_eq!(
            (format!("{:.3}", t.p), format!("{approx:.3}")),
            ("0.008".into(), "0.012".into())
        );
    }

    #[test]
    fn erfc_and_geomean() {
        // Reference values of erfc to 16 digits.
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.9, 4.109_787_809_945_886e-5),
            (3.0, 2.209_049_699_858_543_8e-5),
            (5.0, 1.537_459_794_428_035_1e-12),
            (-1.0, 1.842_700_792_949_715),
        ] {
            assert!(
                (erfc(x) - want).abs() <= 1e-14 * want,
                "erfc({x}) = {} not {want}",
                erfc(x)
            );
        }
        assert!((normal_cdf(-1.959_963_984_540_054) - 0.025).abs() < 1e-15);
        assert!((normal_quantile(0.025) + 1.959_963_984_540_054).abs() < 1e-12);
        assert!((geomean(&[1.0, 4.0, 16.0]) - 4.0).abs() < 1e-12);
        assert!(geomean(&[1.0, 0.0]).is_nan());
    }
}
