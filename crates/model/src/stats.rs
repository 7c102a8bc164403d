//! The statistics helpers every stage uses, in one place. The overload detectors' estimators follow
//! the exact conventions of Beloglazov & Buyya's published implementation (percentile estimation,
//! quartile indices, incremental regression), since their thresholds were tuned with those
//! conventions; the predictor's helpers (trend slope, normal CDF, logistic) sit beside them.
//! Hand-written because each is a few lines and a statistics crate would not reproduce these
//! particular estimators.

/// Median with the "(n + 1) p" interpolating estimator (Apache Commons Math's default percentile).
pub fn median(data: &[f64]) -> f64 {
    let mut v = data.to_vec();
    v.sort_by(f64::total_cmp);
    percentile_sorted(&v, 50.0)
}

fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        1 => sorted[0],
        _ => {
            let pos = p * (n as f64 + 1.0) / 100.0;
            let fpos = pos.floor();
            let d = pos - fpos;
            if pos < 1.0 {
                sorted[0]
            } else if pos >= n as f64 {
                sorted[n - 1]
            } else {
                let lower = sorted[fpos as usize - 1];
                let upper = sorted[fpos as usize];
                lower + d * (upper - lower)
            }
        }
    }
}

/// Median absolute deviation (not scaled to a normal's sigma).
pub fn mad(data: &[f64]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let m = median(data);
    let dev: Vec<f64> = data.iter().map(|x| (m - x).abs()).collect();
    median(&dev)
}

/// Interquartile range with quartiles at sorted positions round(0.25 (n + 1)) and round(0.75 (n + 1)).
pub fn iqr(data: &[f64]) -> f64 {
    let mut v = data.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let q1 = ((0.25 * (n + 1.0)).round() as usize)
        .saturating_sub(1)
        .min(v.len() - 1);
    let q3 = ((0.75 * (n + 1.0)).round() as usize)
        .saturating_sub(1)
        .min(v.len() - 1);
    v[q3] - v[q1]
}

/// Ordinary least squares of `y` on x = 1, 2, ..., n: returns (intercept, slope).
///
/// Uses the incremental (Welford-style) sums of Apache's `SimpleRegression`, which the published
/// local-regression detector relies on; `None` when fewer than 3 points or x has no spread.
pub fn linear_fit(y: &[f64]) -> Option<(f64, f64)> {
    if y.len() < 3 {
        return None;
    }
    if y.len() > FIT_TABLE_LEN {
        return linear_fit_generic(y);
    }
    // The x-only terms (x = 1, 2, ..., n never changes) come from a table computed with the very
    // same operations, so the result is bit for bit the generic loop's with two of its three
    // divisions per sample gone: this runs for every host, and every candidate host of every VM
    // placement, in each LR/LRR consolidation round.
    let t = &FIT_TABLE;
    let mut ybar = y[0];
    let mut sum_y = y[0];
    let mut sum_xy = 0.0;
    for (i, &yi) in y.iter().enumerate().skip(1) {
        let dy = yi - ybar;
        sum_xy += t.dx[i] * dy * t.fact2[i];
        ybar += dy / t.fact1[i];
        sum_y += yi;
    }
    let n = y.len();
    let (sum_x, sum_xx) = (t.sum_x[n - 1], t.sum_xx[n - 1]);
    if sum_xx.abs() < f64::MIN_POSITIVE {
        return None;
    }
    let slope = sum_xy / sum_xx;
    let intercept = (sum_y - slope * sum_x) / n as f64;
    Some((intercept, slope))
}

/// Longest series [`linear_fit`] takes its x-only terms from a table for.
const FIT_TABLE_LEN: usize = 64;

/// The x-only terms of [`linear_fit_generic`] at each step i (x = i + 1), and the running sums
/// of x and of the x deviations after it.
struct FitTable {
    dx: [f64; FIT_TABLE_LEN],
    fact1: [f64; FIT_TABLE_LEN],
    fact2: [f64; FIT_TABLE_LEN],
    sum_x: [f64; FIT_TABLE_LEN],
    sum_xx: [f64; FIT_TABLE_LEN],
}

const FIT_TABLE: FitTable = {
    let mut t = FitTable {
        dx: [0.0; FIT_TABLE_LEN],
        fact1: [0.0; FIT_TABLE_LEN],
        fact2: [0.0; FIT_TABLE_LEN],
        sum_x: [0.0; FIT_TABLE_LEN],
        sum_xx: [0.0; FIT_TABLE_LEN],
    };
    let (mut xbar, mut sum_x, mut sum_xx) = (1.0, 1.0, 0.0);
    t.sum_x[0] = 1.0;
    let mut i = 1;
    while i < FIT_TABLE_LEN {
        let x = (i + 1) as f64;
        let n = i as f64;
        let fact1 = 1.0 + n;
        let fact2 = n / (1.0 + n);
        let dx = x - xbar;
        sum_xx += dx * dx * fact2;
        xbar += dx / fact1;
        sum_x += x;
        t.dx[i] = dx;
        t.fact1[i] = fact1;
        t.fact2[i] = fact2;
        t.sum_x[i] = sum_x;
        t.sum_xx[i] = sum_xx;
        i += 1;
    }
    t
};

/// The incremental least squares, step by step, for series longer than the table.
fn linear_fit_generic(y: &[f64]) -> Option<(f64, f64)> {
    if y.len() < 3 {
        return None;
    }
    let (mut sum_x, mut sum_y, mut sum_xx, mut sum_xy) = (0.0, 0.0, 0.0, 0.0);
    let (mut xbar, mut ybar) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        let x = (i + 1) as f64;
        if i == 0 {
            xbar = x;
            ybar = yi;
        } else {
            let n = i as f64;
            let fact1 = 1.0 + n;
            let fact2 = n / (1.0 + n);
            let dx = x - xbar;
            let dy = yi - ybar;
            sum_xx += dx * dx * fact2;
            sum_xy += dx * dy * fact2;
            xbar += dx / fact1;
            ybar += dy / fact1;
        }
        sum_x += x;
        sum_y += yi;
    }
    if sum_xx.abs() < f64::MIN_POSITIVE {
        return None;
    }
    let slope = sum_xy / sum_xx;
    let intercept = (sum_y - slope * sum_x) / y.len() as f64;
    Some((intercept, slope))
}

/// Coefficient of determination of `y` regressed (with intercept) on the columns `xs`.
///
/// Householder QR least squares; `None` when there are fewer observations than parameters or the
/// design matrix is exactly singular (the maximum-correlation selector then falls back to MMT).
pub fn r_squared(y: &[f64], xs: &[&[f64]]) -> Option<f64> {
    let m = y.len();
    let p = xs.len() + 1;
    if m == 0 || p > m {
        return None;
    }
    // Column-major design matrix [1, x1, ..., xk].
    let mut a = vec![0.0; m * p];
    a[..m].fill(1.0);
    for (c, col) in xs.iter().enumerate() {
        if col.len() != m {
            return None;
        }
        a[(c + 1) * m..(c + 2) * m].copy_from_slice(col);
    }
    let col_norms: Vec<f64> = (0..p)
        .map(|k| {
            a[k * m..(k + 1) * m]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let mut qty = y.to_vec();
    for k in 0..p {
        let col = &mut a[k * m..(k + 1) * m];
        let norm = col[k..].iter().map(|v| v * v).sum::<f64>().sqrt();
        // A column (numerically) in the span of the previous ones: the design is singular.
        if norm <= 1e-10 * col_norms[k] || norm == 0.0 {
            return None;
        }
        let alpha = if col[k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = col[k..].to_vec();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        for j in k..p {
            let cj = &mut a[j * m..(j + 1) * m];
            let dot: f64 = v.iter().zip(&cj[k..]).map(|(a, b)| a * b).sum();
            let f = 2.0 * dot / vnorm2;
            for (i, vi) in v.iter().enumerate() {
                cj[k + i] -= f * vi;
            }
        }
        let dot: f64 = v.iter().zip(&qty[k..]).map(|(a, b)| a * b).sum();
        let f = 2.0 * dot / vnorm2;
        for (i, vi) in v.iter().enumerate() {
            qty[k + i] -= f * vi;
        }
    }
    // Residual sum of squares is the squared norm of Q^T y beyond the first p entries.
    let ssr: f64 = qty[p..].iter().map(|v| v * v).sum();
    let mean = y.iter().sum::<f64>() / m as f64;
    let ssto: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
    Some(1.0 - ssr / ssto)
}

/// Least-squares slope of `y` against 0, 1, 2, ... (0 for fewer than two points).
pub fn slope(y: &[f64]) -> f64 {
    let n = y.len();
    if n < 2 {
        return 0.0;
    }
    let mx = (n - 1) as f64 / 2.0;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    sxy / sxx
}

/// Standard normal cumulative distribution (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

/// Logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn iqr_uses_rounded_positions() {
        // n = 12: q1 at round(3.25) - 1 = 2, q3 at round(9.75) - 1 = 9.
        let d: Vec<f64> = (1..=12).map(f64::from).collect();
        assert_eq!(iqr(&d), 10.0 - 3.0);
    }

    #[test]
    fn mad_of_symmetric_set() {
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 5.0]), 1.0);
    }

    #[test]
    fn the_table_fit_is_the_generic_fit_bit_for_bit() {
        let mut z: u64 = 7;
        for n in 0..=70 {
            for _ in 0..20 {
                let y: Vec<f64> = (0..n)
                    .map(|_| {
                        z = z
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (z >> 11) as f64 / (1u64 << 53) as f64
                    })
                    .collect();
                let (a, b) = (linear_fit(&y), linear_fit_generic(&y));
                assert_eq!(
                    a.map(|(i, s)| (i.to_bits(), s.to_bits())),
                    b.map(|(i, s)| (i.to_bits(), s.to_bits())),
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn linear_fit_recovers_line() {
        let y: Vec<f64> = (1..=10).map(|x| 0.5 + 0.1 * x as f64).collect();
        let (a, b) = linear_fit(&y).unwrap();
        assert!((a - 0.5).abs() < 1e-12 && (b - 0.1).abs() < 1e-12);
    }

    #[test]
    fn r_squared_of_exact_and_noisy_fits() {
        let x: Vec<f64> = (0..8).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        assert!((r_squared(&y, &[&x]).unwrap() - 1.0).abs() < 1e-12);
        let z = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let r = r_squared(&z, &[&x]).unwrap();
        assert!(r > 0.0 && r < 0.2, "{r}");
        assert!(
            r_squared(&z, &[&x, &x]).is_none(),
            "collinear columns are singular"
        );
    }

    #[test]
    fn slope_of_a_line() {
        assert!((slope(&[1.0, 3.0, 5.0, 7.0]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn normal_cdf_known_points() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-3);
        assert!((normal_cdf(-1.96) - 0.025).abs() < 1e-3);
    }
}
