//! The Numenta Anomaly Benchmark: real series (AWS CloudWatch, known-cause system failures) with
//! labelled anomaly windows, and its scoring rules (standard profile), to judge detectors on data
//! nobody on the team produced.

use crate::PredictError;
use crate::forecast::Holt;
use serde::Serialize;
use std::path::Path;

/// One labelled series.
#[derive(Debug, Clone)]
pub struct NabSeries {
    /// `category/file.csv`.
    pub name: String,
    /// Values in time order.
    pub values: Vec<f64>,
    /// Anomaly windows as inclusive index ranges.
    pub windows: Vec<(usize, usize)>,
}

/// NAB's standard-profile weights.
pub const A_TP: f64 = 1.0;
/// False-positive weight.
pub const A_FP: f64 = 0.11;
/// False-negative weight.
pub const A_FN: f64 = 1.0;
/// Share of each series NAB leaves for detectors to learn (not scored).
pub const PROBATION: f64 = 0.15;

/// Loads every series named in `labels/combined_windows.json` under `dir`.
///
/// Label keys must name files inside `dir/data` (no absolute paths, no `..`); every file needs at
/// least two rows with timestamps that never go backwards; windows are compared with the data as
/// times (`2014-02-16 00:00:00` and `2014-02-16T00:00:00` are the same instant), clipped to the
/// series, and may not overlap. Anything else is an error naming the file and the line or key.
pub fn load(dir: &Path) -> Result<Vec<NabSeries>, PredictError> {
    let err = |path: &Path, message: String| PredictError::ModelFile {
        path: path.display().to_string(),
        message,
    };
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PredictError::Io { path, source }
    };
    let labels_path = dir.join("labels/combined_windows.json");
    let text = std::fs::read_to_string(&labels_path).map_err(io(&labels_path))?;
    let labels: std::collections::BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&text)
        .map_err(|source| PredictError::Json {
            path: labels_path.display().to_string(),
            source,
        })?;
    let mut out = Vec::new();
    for (name, windows) in labels {
        let relative = Path::new(&name);
        let confined = !name.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !confined {
            return Err(err(
                &labels_path,
                format!("key {name:?}: must name a file inside data/ (no absolute path, no ..)"),
            ));
        }
        let path = dir.join("data").join(relative);
        let csv = std::fs::read_to_string(&path).map_err(io(&path))?;
        let mut times = Vec::new();
        let mut values = Vec::new();
        for (i, line) in csv.lines().enumerate().skip(1) {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let Some((ts, v)) = line.split_once(',') else {
                return Err(err(
                    &path,
                    format!("line {line_no}: expected `timestamp,value`"),
                ));
            };
            let t = promig_model::time::parse_iso(ts).ok_or_else(|| {
                err(
                    &path,
                    format!(
                        "line {line_no}: field `timestamp`: not a time: {:?}",
                        excerpt(ts)
                    ),
                )
            })?;
            let v: f64 = v.trim().parse().map_err(|_| {
                err(
                    &path,
                    format!(
                        "line {line_no}: field `value`: not a number: {:?}",
                        excerpt(v)
                    ),
                )
            })?;
            if times.last().is_some_and(|&last| t < last) {
                return Err(err(
                    &path,
                    format!("line {line_no}: field `timestamp`: goes backwards"),
                ));
            }
            times.push(t);
            values.push(v);
        }
        if values.len() < 2 {
            return Err(err(
                &path,
                format!("needs at least 2 rows, has {}", values.len()),
            ));
        }
        let (first, last) = (times[0], times[times.len() - 1]);
        let mut spans = Vec::with_capacity(windows.len());
        for [a, b] in &windows {
            let time = |s: &str| {
                promig_model::time::parse_iso(s).ok_or_else(|| {
                    err(
                        &labels_path,
                        format!("key {name:?}: window bound {:?} is not a time", excerpt(s)),
                    )
                })
            };
            let (start, end) = (time(a)?, time(b)?);
            if start > end {
                return Err(err(
                    &labels_path,
                    format!("key {name:?}: window {a} .. {b} ends before it starts"),
                ));
            }
            if end < first || start > last {
                return Err(err(
                    &labels_path,
                    format!("key {name:?}: window {a} .. {b} lies outside the series' time range"),
                ));
            }
            // First sample at or after each bound; the end is inclusive and clipped to the series.
            let at = |t: f64| times.partition_point(|&x| x < t);
            spans.push((at(start), at(end).min(values.len() - 1)));
        }
        spans.sort_unstable();
        if let Some(w) = spans.windows(2).find(|w| w[1].0 <= w[0].1) {
            return Err(err(
                &labels_path,
                format!(
                    "key {name:?}: windows overlap (samples {}..={} and {}..={})",
                    w[0].0, w[0].1, w[1].0, w[1].1
                ),
            ));
        }
        out.push(NabSeries {
            name,
            values,
            windows: spans,
        });
    }
    Ok(out)
}

/// At most 40 characters of a bad value, so an error never echoes a whole file.
fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// How a detector did on one or more series.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NabScore {
    /// Anomaly windows.
    pub windows: usize,
    /// Windows with a detection at or before their start (up to one window length before).
    pub flagged_by_start: usize,
    /// Windows with a detection anywhere inside.
    pub detected: usize,
    /// Detections outside every window (after probation).
    pub false_alarms: usize,
    /// Raw standard-profile score.
    pub raw: f64,
    /// Score of a detector that never fires.
    pub null: f64,
    /// Score of a detector that fires at every window's start.
    pub perfect: f64,
}

impl NabScore {
    /// NAB's normalised score: 0 = never fires, 100 = perfect.
    pub fn normalized(&self) -> f64 {
        if self.perfect == self.null {
            0.0
        } else {
            100.0 * (self.raw - self.null) / (self.perfect - self.null)
        }
    }

    /// Adds another series' score.
    pub fn add(&mut self, o: &NabScore) {
        self.windows += o.windows;
        self.flagged_by_start += o.flagged_by_start;
        self.detected += o.detected;
        self.false_alarms += o.false_alarms;
        self.raw += o.raw;
        self.null += o.null;
        self.perfect += o.perfect;
    }
}

fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// Scores detections (one flag per point) with NAB's rules: the first detection in a window earns
/// A_TP x sigmoid(position), earlier is better; a detection outside windows costs A_FP x a sigmoid
/// of its distance past the previous window (full cost before any window); a missed window costs
/// A_FN. Points in the probationary period are not scored.
pub fn score(series: &NabSeries, detections: &[bool]) -> NabScore {
    let n = series.values.len();
    let probation = (PROBATION * n as f64) as usize;
    let mut s = NabScore {
        windows: series.windows.len(),
        null: -A_FN * series.windows.len() as f64,
        perfect: A_TP * scaled_sigmoid(-1.0) * series.windows.len() as f64,
        ..NabScore::default()
    };
    let mut tp_score: Vec<Option<f64>> = vec![None; series.windows.len()];
    for (i, &d) in detections.iter().enumerate().take(n) {
        if !d || i < probation {
            continue;
        }
        match series.windows.iter().position(|&(a, b)| i >= a && i <= b) {
            Some(w) => {
                let (a, b) = series.windows[w];
                let len = (b - a + 1) as f64;
                let pos = -((b - i) as f64 + 1.0) / len;
                if tp_score[w].is_none() {
                    tp_score[w] = Some(A_TP * scaled_sigmoid(pos));
                }
            }
            None => {
                s.false_alarms += 1;
                let prev = series
                    .windows
                    .iter()
                    .filter(|&&(_, b)| b < i)
                    .max_by_key(|&&(_, b)| b);
                s.raw += match prev {
                    Some(&(a, b)) => {
                        A_FP * scaled_sigmoid((i - b) as f64 / ((b - a) as f64).max(1.0))
                    }
                    None => -A_FP,
                };
            }
        }
    }
    for (w, &(a, b)) in series.windows.iter().enumerate() {
        match tp_score[w] {
            Some(v) => {
                s.raw += v;
                s.detected += 1;
            }
            None => s.raw -= A_FN,
        }
        // Flagged by its start: a detection within one window length before it (after
        // probation). A window starting inside probation can still be detected later on.
        let lead = b - a + 1;
        let from = a.saturating_sub(lead).max(probation);
        let to = a
            .min(n.saturating_sub(1))
            .min(detections.len().saturating_sub(1));
        if from <= to && detections[from..=to].iter().any(|&d| d) {
            s.flagged_by_start += 1;
        }
    }
    s
}

/// Quiet period after an alarm, as a share of the series (NAB charges every extra detection
/// outside windows; labelled windows are about a tenth of a series, shared among its anomalies).
const REFRACTORY_SHARE: f64 = 0.05;

/// The reactive detector: a static threshold on the current value, mean +/- 4 standard deviations
/// of the probationary period.
pub fn detect_threshold(values: &[f64]) -> Vec<bool> {
    let p = ((PROBATION * values.len() as f64) as usize).max(2);
    let mean = values[..p].iter().sum::<f64>() / p as f64;
    let sd = (values[..p].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / p as f64)
        .sqrt()
        .max(1e-9);
    refractory(values.iter().map(|v| (v - mean).abs() > 4.0 * sd))
}

/// Novelty: an alarm when the value leaves the range of everything seen so far (the probationary
/// period included). Failures in the NAB's real series mostly take a metric somewhere it has never
/// been; a value inside the known range, however unusual its timing, costs no false alarm.
/// Sees nothing ahead of time, so it is scored beside the forecast detector, not instead of it.
pub fn detect_new_extreme(values: &[f64]) -> Vec<bool> {
    let p = ((PROBATION * values.len() as f64) as usize)
        .max(2)
        .min(values.len());
    let (mut lo, mut hi) = values[..p]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let flags = values.iter().enumerate().map(|(i, &v)| {
        if i < p {
            return false;
        }
        let novel = v > hi || v < lo;
        lo = lo.min(v);
        hi = hi.max(v);
        novel
    });
    refractory(flags.collect::<Vec<_>>().into_iter())
}

/// The predictor: Holt's forecast flags a value heading past the same threshold within the next
/// 12 points (prediction), or a one-step surprise over 6 of its running error (sudden change).
pub fn detect_forecast(values: &[f64]) -> Vec<bool> {
    let p = ((PROBATION * values.len() as f64) as usize).max(2);
    let mean = values[..p].iter().sum::<f64>() / p as f64;
    let sd = (values[..p].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / p as f64)
        .sqrt()
        .max(1e-9);
    let norm = |v: f64| (v - mean) / sd;
    let mut holt = Holt::default();
    let mut flags = Vec::with_capacity(values.len());
    for &v in values {
        let z = norm(v);
        let surprise = holt.surprise(z);
        holt.update(z);
        let heading = holt
            .p_exceeds(4.0, 12.0)
            .max(Holt::negated(&holt).p_exceeds(4.0, 12.0));
        flags.push(surprise > 6.0 || heading > 0.5);
    }
    refractory(flags.into_iter())
}

/// Anomaly likelihood of the forecast errors (the idea of Numenta's detector, on Holt's errors):
/// the mean of the last 10 one-step errors, compared with the distribution of all earlier errors;
/// an alarm when it sits more than `z` standard deviations above their mean.
pub fn detect_likelihood(values: &[f64], z: f64) -> Vec<bool> {
    let p = ((PROBATION * values.len() as f64) as usize).max(2);
    let mean = values[..p].iter().sum::<f64>() / p as f64;
    let sd = (values[..p].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / p as f64)
        .sqrt()
        .max(1e-9);
    let mut holt = Holt::default();
    let (mut n, mut m, mut m2) = (0.0f64, 0.0f64, 0.0f64); // Welford over all errors so far
    let mut recent: std::collections::VecDeque<f64> = std::collections::VecDeque::with_capacity(10);
    let mut flags = Vec::with_capacity(values.len());
    for &v in values {
        let x = (v - mean) / sd;
        let err = if holt.n >= 2 {
            (x - holt.forecast(1.0)).abs()
        } else {
            0.0
        };
        holt.update(x);
        if recent.len() == 10 {
            recent.pop_front();
        }
        recent.push_back(err);
        let short = recent.iter().sum::<f64>() / recent.len() as f64;
        let long_sd = if n > 1.0 {
            (m2 / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        flags.push(
            n > 100.0
                && long_sd > 0.0
                && (short - m) / (long_sd / (recent.len() as f64).sqrt()) > z,
        );
        n += 1.0;
        let d = err - m;
        m += d / n;
        m2 += d * (err - m);
    }
    refractory(flags.into_iter())
}

fn refractory(raw: impl ExactSizeIterator<Item = bool>) -> Vec<bool> {
    let period = ((raw.len() as f64 * REFRACTORY_SHARE) as usize).max(1);
    let mut quiet = 0usize;
    raw.map(|f| {
        if quiet > 0 {
            quiet -= 1;
            return false;
        }
        if f {
            quiet = period;
        }
        f
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> NabSeries {
        NabSeries {
            name: "t".into(),
            values: vec![0.0; 1000],
            windows: vec![(500, 599)],
        }
    }

    #[test]
    fn early_detection_scores_near_one_and_missing_scores_zero() {
        let s = series();
        let mut d = vec![false; 1000];
        assert_eq!(score(&s, &d).normalized(), 0.0);
        d[500] = true;
        let early = score(&s, &d);
        assert!(early.normalized() > 99.0, "{early:?}");
        d[500] = false;
        d[590] = true;
        assert!(score(&s, &d).normalized() < early.normalized());
    }

    #[test]
    fn new_extremes_alarm_once_and_values_inside_the_range_never() {
        let mut v: Vec<f64> = (0..1000).map(|i| (i % 10) as f64).collect();
        v[600] = 20.0;
        v[700] = 15.0; // unusual, but inside the range seen since 600
        let d = detect_new_extreme(&v);
        assert_eq!(d.iter().filter(|&&x| x).count(), 1);
        assert!(d[600]);
    }

    #[test]
    fn false_alarms_cost() {
        let s = series();
        let mut d = vec![false; 1000];
        d[500] = true;
        d[300] = true;
        let sc = score(&s, &d);
        assert_eq!(sc.false_alarms, 1);
        assert!(sc.normalized() < 99.0);
    }
}
