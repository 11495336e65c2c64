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

/// The two-sided p-value of the Mann-Whitney U test that `a` and `b` come from
/// the same distribution: exact for small samples without ties, else the normal
/// approximation with tie and continuity corrections.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    // Ranks of the pooled values, ties sharing the average rank.
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0; // sum of (t^3 - t) over tie groups
    let mut ties = false;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        if t > 1.0 {
            ties = true;
            tie_term += t * t * t - t;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_a += all[i..=j].iter().filter(|x| x.1).count() as f64 * avg_rank;
        i = j + 1;
    }
    let u = rank_sum_a - (n1 * (n1 + 1)) as f64 / 2.0;
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let mean = n1f * n2f / 2.0;
    if !ties && n1 * n2 <= 2500 {
        return exact_p(n1, n2, u.round() as usize);
    }
    let n = n1f + n2f;
    let var = n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
    (2.0 * normal_upper_tail(z)).min(1.0)
}

/// Exact two-sided p-value of U = `u` for sample sizes `n1`, `n2` without ties:
/// the number of arrangements with each U value, by dynamic programming.
fn exact_p(n1: usize, n2: usize, u: usize) -> f64 {
    let max_u = n1 * n2;
    // counts[i][j][u]: arrangements of i values of a and j of b with statistic u;
    // built one (i, j) layer at a time: adding a b value adds nothing, adding an a
    // value adds j (the b values below it).
    let mut prev: Vec<Vec<f64>> = vec![vec![0.0; max_u + 1]; n2 + 1];
    for row in prev.iter_mut() {
        row[0] = 1.0;
    }
    for _ in 0..n1 {
        let mut cur: Vec<Vec<f64>> = vec![vec![0.0; max_u + 1]; n2 + 1];
        cur[0][0] = 1.0;
        for j in 1..=n2 {
            for s in 0..=max_u {
                let from_b = cur[j - 1][s];
                let from_a = if s >= j { prev[j][s - j] } else { 0.0 };
                cur[j][s] = from_a + from_b;
            }
        }
        prev = cur;
    }
    let counts = &prev[n2];
    let total: f64 = counts.iter().sum();
    let mirrored = max_u - u.min(max_u);
    let (lo, hi) = (u.min(mirrored), u.max(mirrored));
    let tail: f64 = counts[..=lo].iter().sum::<f64>() + counts[hi..].iter().sum::<f64>();
    let p = if lo == hi { tail - counts[lo] } else { tail };
    (p / total).min(1.0)
}

/// P(Z > z) for a standard normal Z.
fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' erfc approximation via
/// Chebyshev fitting, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
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
        // U for n1 = n2 = 10, a shifted by about one standard deviation.
        let a: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..10).map(|i| i as f64 + 3.5).collect();
        let exact = mann_whitney_p(&a, &b);
        // The same ranks with one tie forced: normal approximation.
        let mut b2 = b.clone();
        b2[0] = a[9];
        let approx = mann_whitney_p(&a, &b2);
        assert!(exact > 0.01 && exact < 0.1, "{exact}");
        assert!((exact - approx).abs() < 0.03, "{exact} vs {approx}");
    }

    #[test]
    fn erfc_and_geomean() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((normal_upper_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!((geomean(&[1.0, 4.0, 16.0]) - 4.0).abs() < 1e-12);
        assert!(geomean(&[1.0, 0.0]).is_nan());
    }
}
