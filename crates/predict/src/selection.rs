//! Correlation-based feature selection: rank features by their correlation with the outcome and
//! mark those that mostly repeat a better-ranked one, so an operator sees what the model uses.

use serde::Serialize;

/// Two features correlated above this are treated as one.
pub const REDUNDANCY: f64 = 0.9;

/// One feature's standing.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    /// Column index.
    pub index: usize,
    /// Name.
    pub name: String,
    /// Pearson correlation with the outcome.
    pub correlation: f64,
    /// Better-ranked feature it duplicates, if any.
    pub redundant_with: Option<String>,
}

/// Pearson correlation (0 when either side is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Ranks the columns of `xs` by |correlation| with `y`.
pub fn rank<const N: usize>(xs: &[[f64; N]], y: &[f64], names: &[&str; N]) -> Vec<Ranked> {
    let cols: Vec<Vec<f64>> = (0..N).map(|i| xs.iter().map(|r| r[i]).collect()).collect();
    let mut out: Vec<Ranked> = (0..N)
        .map(|i| Ranked {
            index: i,
            name: names[i].to_string(),
            correlation: pearson(&cols[i], y),
            redundant_with: None,
        })
        .collect();
    out.sort_by(|a, b| {
        b.correlation
            .abs()
            .total_cmp(&a.correlation.abs())
            .then(a.index.cmp(&b.index))
    });
    for k in 1..out.len() {
        let dup = (0..k)
            .filter(|&j| out[j].redundant_with.is_none())
            .find(|&j| pearson(&cols[out[k].index], &cols[out[j].index]).abs() > REDUNDANCY)
            .map(|j| out[j].name.clone());
        out[k].redundant_with = dup;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_spots_duplicates() {
        let xs: Vec<[f64; 3]> = (0..50)
            .map(|i| [i as f64, 2.0 * i as f64 + 1.0, ((i * 7) % 5) as f64])
            .collect();
        let y: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let r = rank(&xs, &y, &["a", "b", "noise"]);
        assert_eq!(r[0].name, "a");
        assert_eq!(r[1].redundant_with.as_deref(), Some("a"));
        assert_eq!(r[2].name, "noise");
    }
}
