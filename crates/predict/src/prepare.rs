//! Preparation between collection and prediction: put irregular samples on a fixed step, fill
//! short gaps (and only short ones), clip outliers, normalise, and derive the rolling features the
//! predictors use. Each function is small, pure and tested, so a predictor's input can be rebuilt
//! exactly from the raw series.

/// Resamples `(t_s, value)` points (time-ordered) onto a grid of `step_s` starting at the first
/// point; each grid value is the last observation at or before it, `None` where the newest
/// observation is older than `max_gap_s` (a gap too long to bridge honestly).
pub fn resample(points: &[(f64, f64)], step_s: f64, max_gap_s: f64) -> Vec<Option<f64>> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let n = ((last.0 - first.0) / step_s).floor() as usize + 1;
    let mut out = Vec::with_capacity(n);
    let mut j = 0;
    for k in 0..n {
        let t = first.0 + k as f64 * step_s;
        while j + 1 < points.len() && points[j + 1].0 <= t {
            j += 1;
        }
        let (tj, vj) = points[j];
        out.push((tj <= t && t - tj <= max_gap_s).then_some(vj));
    }
    out
}

/// Fills runs of at most `max_run` missing values by linear interpolation between their
/// neighbours; longer runs (and runs at the ends) stay missing.
pub fn fill_gaps(values: &mut [Option<f64>], max_run: usize) {
    let mut i = 0;
    while i < values.len() {
        if values[i].is_some() {
            i += 1;
            continue;
        }
        let start = i;
        while i < values.len() && values[i].is_none() {
            i += 1;
        }
        let run = i - start;
        if start == 0 || i == values.len() || run > max_run {
            continue;
        }
        let (a, b) = (
            values[start - 1].expect("checked"),
            values[i].expect("checked"),
        );
        for (k, slot) in values[start..i].iter_mut().enumerate() {
            *slot = Some(a + (b - a) * (k + 1) as f64 / (run + 1) as f64);
        }
    }
}

/// Clips values outside median +/- `k` x MAD-based sigma (robust to the outliers it clips).
pub fn clip_outliers(values: &mut [f64], k: f64) {
    if values.len() < 3 {
        return;
    }
    // The policy crate's estimators, so every median and MAD in promig means the same thing.
    let median = promig_model::stats::median(values);
    let sigma = 1.4826 * promig_model::stats::mad(values);
    if sigma == 0.0 {
        return;
    }
    for v in values.iter_mut() {
        *v = v.clamp(median - k * sigma, median + k * sigma);
    }
}

/// Z-score normalisation with the mean and standard deviation of `reference` (e.g. a training or
/// probationary period), so later data is judged on the scale it was learned on.
pub fn normalize(values: &mut [f64], reference: &[f64]) {
    let n = reference.len().max(1) as f64;
    let mean = reference.iter().sum::<f64>() / n;
    let sd = (reference.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
        .sqrt()
        .max(1e-12);
    for v in values.iter_mut() {
        *v = (*v - mean) / sd;
    }
}

/// Rolling mean, standard deviation and least-squares slope over the last `window` values.
pub fn rolling(values: &[f64], window: usize) -> Vec<(f64, f64, f64)> {
    (0..values.len())
        .map(|i| {
            let w = &values[i.saturating_sub(window.max(1) - 1)..=i];
            let n = w.len() as f64;
            let mean = w.iter().sum::<f64>() / n;
            let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            (mean, sd, promig_model::stats::slope(w))
        })
        .collect()
}

/// Exponentially weighted moving average with smoothing `alpha`.
pub fn ewma(values: &[f64], alpha: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut acc = None;
    for &v in values {
        let next = match acc {
            None => v,
            Some(a) => alpha * v + (1.0 - alpha) * a,
        };
        acc = Some(next);
        out.push(next);
    }
    out
}

/// Steps until the linear trend of the last `window` values reaches `limit` (`None` if it is not
/// heading there).
pub fn time_to_exhaustion(values: &[f64], window: usize, limit: f64) -> Option<f64> {
    let w = &values[values.len().saturating_sub(window)..];
    let last = *w.last()?;
    if last >= limit {
        return Some(0.0);
    }
    let slope = promig_model::stats::slope(w);
    (slope > 0.0).then(|| (limit - last) / slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_and_bounded_gap_filling() {
        let pts = [(0.0, 1.0), (300.0, 2.0), (1500.0, 6.0), (5000.0, 9.0)];
        let mut r = resample(&pts, 300.0, 600.0);
        assert_eq!(
            &r[..6],
            &[Some(1.0), Some(2.0), Some(2.0), Some(2.0), None, Some(6.0)]
        );
        fill_gaps(&mut r, 2);
        assert_eq!(r[4], Some(4.0), "one missing point between 2 and 6");
        let long_gap_stays = r[10..16].iter().any(Option::is_none);
        assert!(long_gap_stays, "{r:?}");
    }

    #[test]
    fn clipping_spares_normal_values() {
        let mut v = vec![1.0, 1.1, 0.9, 1.0, 50.0, 1.05];
        clip_outliers(&mut v, 5.0);
        assert!(v[4] < 2.0 && v[0] == 1.0);
    }

    #[test]
    fn derived_features() {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        let r = rolling(&v, 4);
        assert!((r[9].2 - 1.0).abs() < 1e-12 && (r[9].0 - 7.5).abs() < 1e-12);
        assert_eq!(ewma(&[0.0, 10.0], 0.5), vec![0.0, 5.0]);
        assert_eq!(time_to_exhaustion(&v, 5, 12.0), Some(3.0));
        assert_eq!(time_to_exhaustion(&[5.0, 4.0, 3.0], 3, 10.0), None);
        let mut z = vec![1.0, 2.0, 3.0];
        normalize(&mut z, &[1.0, 3.0]);
        assert_eq!(z, vec![-1.0, 0.0, 1.0]);
    }
}
