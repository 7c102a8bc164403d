//! The Numenta Anomaly Benchmark: real series (AWS CloudWatch, known-cause system failures) with
//! labelled anomaly windows, and its scoring rules, to judge detectors on data nobody on the team
//! produced. The scorer reproduces NAB's own per-timestamp scores (`S(t)_*` in NAB's result files,
//! checked by `tests/nab_against_nab.rs`), so our detectors and NAB's published ones (read from
//! those files) are ranked by the same rules.

use crate::PredictError;
use crate::forecast::Holt;
use serde::Serialize;
use std::path::Path;

/// One labelled series.
#[derive(Debug, Clone)]
pub struct NabSeries {
    /// `category/file.csv`.
    pub name: String,
    /// Row times, seconds since 1970, never decreasing; NAB's result files must have the same rows.
    pub times_s: Vec<f64>,
    /// Values in time order.
    pub values: Vec<f64>,
    /// Anomaly windows as inclusive row-index ranges, sorted, disjoint.
    pub windows: Vec<(usize, usize)>,
}

/// A NAB scoring profile (its `CostMatrix` in `config/profiles.json`): how much a detected window
/// earns, a false alarm costs and a missed window costs. The three are NAB's; the standard one is
/// what NAB's headline scores use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Profile {
    /// NAB's name for it (the key in `profiles.json` and `thresholds.json`).
    pub name: &'static str,
    /// Earned by a window detected at its first row.
    pub tp_weight: f64,
    /// Cost of a false alarm far from any window.
    pub fp_weight: f64,
    /// Cost of a missed window.
    pub fn_weight: f64,
}

impl Profile {
    /// NAB's standard profile.
    pub const STANDARD: Profile = Profile {
        name: "standard",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
    };
    /// False alarms cost twice as much.
    pub const REWARD_LOW_FP_RATE: Profile = Profile {
        name: "reward_low_FP_rate",
        tp_weight: 1.0,
        fp_weight: 0.22,
        fn_weight: 1.0,
    };
    /// Missed windows cost twice as much.
    pub const REWARD_LOW_FN_RATE: Profile = Profile {
        name: "reward_low_FN_rate",
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 2.0,
    };
    /// All three, in NAB's order.
    pub const ALL: [Profile; 3] = [
        Profile::STANDARD,
        Profile::REWARD_LOW_FP_RATE,
        Profile::REWARD_LOW_FN_RATE,
    ];
}

/// Share of each series NAB leaves for detectors to learn (not scored, up to
/// [`PROBATION_CAP_ROWS`]). Our detectors take their statistics from this share, uncapped.
pub const PROBATION: f64 = 0.15;
/// NAB caps the probationary period at the share of a 5000-row series: long series are scored
/// from row 750 on, not from 15 % of their length.
pub const PROBATION_CAP_ROWS: f64 = PROBATION * 5000.0;

/// Rows at the start of an `n`-row series that NAB does not score: `min(floor(0.15 n), 750)`.
pub fn probation_rows(n: usize) -> usize {
    // Both in f64 as NAB computes them; the cap is an integer, so the minimum is one.
    (PROBATION * n as f64).floor().min(PROBATION_CAP_ROWS) as usize
}

/// Loads every series named in `labels/combined_windows.json` under `dir`.
///
/// Label keys must name files inside `dir/data` (no absolute paths, no `..`); every file needs at
/// least two rows with timestamps that never go backwards; windows are compared with the data as
/// times (`2014-02-16 00:00:00` and `2014-02-16T00:00:00` are the same instant). A window holds the
/// rows whose time lies within its bounds, both included (NAB's rule; NAB's own bounds are row
/// times), must hold at least one row and may not overlap another. Anything else is an error
/// naming the file and the line or key.
pub fn load(dir: &Path) -> Result<Vec<NabSeries>, PredictError> {
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
            let t = time_field(&path, line_no, ts)?;
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
            // NAB's rule: the rows with start <= time <= end. `end >= first`, so `to >= 1`.
            let from = times.partition_point(|&x| x < start);
            let to = times.partition_point(|&x| x <= end) - 1;
            if from > to {
                return Err(err(
                    &labels_path,
                    format!("key {name:?}: window {a} .. {b} holds no row of the series"),
                ));
            }
            spans.push((from, to));
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
            times_s: times,
            values,
            windows: spans,
        });
    }
    Ok(out)
}

/// NAB's threshold for `detector` under `profile`, from `dir/config/thresholds.json` (NAB chose
/// each by sweeping its whole 58-series corpus; we take it as published).
pub fn load_threshold(dir: &Path, detector: &str, profile: &Profile) -> Result<f64, PredictError> {
    let path = dir.join("config/thresholds.json");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let all: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| PredictError::Json {
            path: path.display().to_string(),
            source,
        })?;
    all.get(detector)
        .and_then(|d| d.get(profile.name))
        .and_then(|p| p.get("threshold"))
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| {
            err(
                &path,
                format!(
                    "key {:?}.{:?}.threshold: missing or not a number",
                    excerpt(detector),
                    profile.name
                ),
            )
        })
}

/// NAB's published anomaly scores of `detector` for each of `series`, in the same order, read from
/// `dir/results/<detector>/<category>/<detector>_<file>` (the layout of NAB's `results/`).
///
/// `detector` must be a plain name (no `/`, no `..`) and each file must stay inside `dir` (links
/// out are refused). Each file needs `timestamp` and `anomaly_score` columns and exactly the
/// series' rows (same times, same order), or the scores would be scored against the wrong rows;
/// anything else is an error naming the file and the line or column.
pub fn load_results(
    dir: &Path,
    detector: &str,
    series: &[NabSeries],
) -> Result<Vec<Vec<f64>>, PredictError> {
    let plain_name = !detector.is_empty()
        && Path::new(detector)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        && Path::new(detector).components().count() == 1;
    if !plain_name {
        return Err(err(
            &dir.join("results"),
            format!("detector {:?}: not a plain name", excerpt(detector)),
        ));
    }
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let name = Path::new(&s.name);
        let (Some(category), Some(file)) = (name.parent(), name.file_name()) else {
            return Err(err(
                &dir.join("results"),
                format!("series {:?}: no file name", excerpt(&s.name)),
            ));
        };
        let relative = Path::new("results")
            .join(detector)
            .join(category)
            .join(format!("{detector}_{}", file.to_string_lossy()));
        let shown = dir.join(&relative);
        let path = promig_model::data::inside(dir, &relative.to_string_lossy())
            .map_err(|e| err(&shown, format!("NAB's result file for {:?}: {e}", s.name)))?;
        out.push(parse_results(&path, s)?);
    }
    Ok(out)
}

/// The anomaly scores of one NAB result file, checked row by row against the series.
fn parse_results(path: &Path, series: &NabSeries) -> Result<Vec<f64>, PredictError> {
    let csv = std::fs::read_to_string(path).map_err(io(path))?;
    let mut lines = csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let column = |name: &str| {
        header
            .iter()
            .position(|&h| h == name)
            .ok_or_else(|| err(path, format!("line 1: no `{name}` column")))
    };
    let (ts_col, score_col) = (column("timestamp")?, column("anomaly_score")?);
    let mut scores = Vec::with_capacity(series.values.len());
    for (i, line) in lines {
        let line_no = i + 1;
        let row = scores.len();
        let fields: Vec<&str> = line.split(',').collect();
        let field = |c: usize, name: &str| {
            fields
                .get(c)
                .copied()
                .ok_or_else(|| err(path, format!("line {line_no}: no field `{name}`")))
        };
        let t = time_field(path, line_no, field(ts_col, "timestamp")?)?;
        if series.times_s.get(row) != Some(&t) {
            return Err(err(
                path,
                format!(
                    "line {line_no}: field `timestamp`: is not row {} of data/{}",
                    row + 1,
                    series.name
                ),
            ));
        }
        let v = field(score_col, "anomaly_score")?;
        scores.push(v.trim().parse::<f64>().map_err(|_| {
            err(
                path,
                format!(
                    "line {line_no}: field `anomaly_score`: not a number: {:?}",
                    excerpt(v)
                ),
            )
        })?);
    }
    if scores.len() != series.values.len() {
        return Err(err(
            path,
            format!(
                "has {} rows, data/{} has {}",
                scores.len(),
                series.name,
                series.values.len()
            ),
        ));
    }
    Ok(scores)
}

/// NAB's rule for turning anomaly scores into detections: a row is a detection when its score is
/// at or above the threshold (a NaN score never is).
pub fn detections_at(scores: &[f64], threshold: f64) -> Vec<bool> {
    scores.iter().map(|&s| s >= threshold).collect()
}

fn err(path: &Path, message: String) -> PredictError {
    PredictError::ModelFile {
        path: path.display().to_string(),
        message,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PredictError {
    let path = path.display().to_string();
    move |source| PredictError::Io { path, source }
}

fn time_field(path: &Path, line_no: usize, ts: &str) -> Result<f64, PredictError> {
    promig_model::time::parse_iso(ts).ok_or_else(|| {
        err(
            path,
            format!(
                "line {line_no}: field `timestamp`: not a time: {:?}",
                excerpt(ts)
            ),
        )
    })
}

/// At most 40 characters of a bad value, so an error never echoes a whole file.
fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// How a detector did on one or more series, under one profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NabScore {
    /// Anomaly windows.
    pub windows: usize,
    /// Windows with a detection at or before their start (up to one window length before).
    pub flagged_by_start: usize,
    /// Windows with a detection anywhere inside (after probation).
    pub detected: usize,
    /// Detections outside every window (after probation); NAB charges each one.
    pub false_alarms: usize,
    /// Raw score: the sum of NAB's `S(t)` over the rows.
    pub raw: f64,
    /// Score of a detector that never fires: `-fn_weight` per window.
    pub null: f64,
    /// NAB's perfect score: `tp_weight` per window (a detection at every window's first row).
    pub perfect: f64,
}

impl NabScore {
    /// NAB's normalised score, `100 (raw - null) / (perfect - null)`: 0 = never fires, 100 =
    /// perfect. Summed over series before normalising, as NAB does over its corpus.
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

/// NAB's scaled sigmoid of a relative position: about 0.987 at a window's first row (-1), 0 at
/// its last (0), -1 from three window lengths past it.
fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// [`score_with`] under NAB's standard profile.
pub fn score(series: &NabSeries, detections: &[bool]) -> NabScore {
    score_with(series, detections, &Profile::STANDARD)
}

/// Scores detections (one flag per row) with NAB's rules, as NAB's scorer wrote them into its
/// result files:
/// - rows in the probationary period ([`probation_rows`]) are not scored, wherever they are;
/// - a window's first scored detection earns `tp_weight x sigmoid(-(end - i + 1) / length)`
///   divided by the sigmoid's value at -1, so a detection on the window's first row earns exactly
///   `tp_weight`; later detections in the window earn nothing more; a window without one costs
///   `fn_weight`;
/// - every detection outside all windows costs `fp_weight x sigmoid((i - end) / (length - 1))`
///   of the nearest window ending before it (little right after it, the full weight from three
///   window lengths on), or the full `fp_weight` when no window ends before it.
pub fn score_with(series: &NabSeries, detections: &[bool], profile: &Profile) -> NabScore {
    let n = series.values.len();
    let probation = probation_rows(n);
    let fired = |i: usize| i >= probation && detections.get(i).copied().unwrap_or(false);
    let max_tp = scaled_sigmoid(-1.0);
    let windows = series.windows.len() as f64;
    let mut s = NabScore {
        windows: series.windows.len(),
        null: -profile.fn_weight * windows,
        perfect: profile.tp_weight * windows,
        ..NabScore::default()
    };
    for &(a, b) in &series.windows {
        let length = (b - a + 1) as f64;
        match (a.max(probation)..=b).find(|&i| fired(i)) {
            Some(i) => {
                let position = -((b - i + 1) as f64) / length;
                s.raw += profile.tp_weight * scaled_sigmoid(position) / max_tp;
                s.detected += 1;
            }
            None => s.raw -= profile.fn_weight,
        }
        // Flagged by its start (our measure, not NAB's): a detection within one window length
        // before it (after probation).
        let lead = b - a + 1;
        let from = a.saturating_sub(lead);
        let to = a.min(n.saturating_sub(1));
        if (from..=to).any(fired) {
            s.flagged_by_start += 1;
        }
    }
    for i in (probation..n).filter(|&i| fired(i)) {
        if series.windows.iter().any(|&(a, b)| i >= a && i <= b) {
            continue;
        }
        s.false_alarms += 1;
        let previous = series
            .windows
            .iter()
            .filter(|&&(_, b)| b < i)
            .max_by_key(|&&(_, b)| b);
        s.raw += match previous {
            // NAB divides by length - 1, which is 0 for a one-row window (its scorer fails there);
            // we measure in rows instead.
            Some(&(a, b)) => {
                profile.fp_weight * scaled_sigmoid((i - b) as f64 / ((b - a) as f64).max(1.0))
            }
            None => -profile.fp_weight,
        };
    }
    s
}

/// NAB's published detectors whose result files the data folder holds: (NAB's name, the name we
/// show). They are scored here from their anomaly scores and NAB's thresholds, so they sit in the
/// same table as ours, under the same (checked) rules.
pub const NAB_DETECTORS: [(&str, &str); 4] = [
    ("numenta", "numenta HTM (NAB)"),
    ("twitterADVec", "twitterADVec (NAB)"),
    ("windowedGaussian", "windowedGaussian (NAB)"),
    ("randomCutForest", "randomCutForest (NAB)"),
];

/// Scores one detector's detections (one vector per series, in the order of `series`) and sums
/// them per category (`realAWSCloudwatch`, ...) and over everything (`all`): NAB normalises sums,
/// not averages of per-series scores.
pub fn score_corpus(
    series: &[NabSeries],
    detections: &[Vec<bool>],
    profile: &Profile,
) -> std::collections::BTreeMap<String, NabScore> {
    let mut by_category: std::collections::BTreeMap<String, NabScore> = Default::default();
    let mut total = NabScore::default();
    for (s, d) in series.iter().zip(detections) {
        let sc = score_with(s, d, profile);
        let category = s.name.split('/').next().unwrap_or("").to_string();
        by_category.entry(category).or_default().add(&sc);
        total.add(&sc);
    }
    by_category.insert("all".into(), total);
    by_category
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

    fn series_of(n: usize, windows: Vec<(usize, usize)>) -> NabSeries {
        NabSeries {
            name: "t".into(),
            times_s: (0..n).map(|i| i as f64 * 300.0).collect(),
            values: vec![0.0; n],
            windows,
        }
    }

    fn series() -> NabSeries {
        series_of(1000, vec![(500, 599)])
    }

    #[test]
    fn a_detection_on_the_first_row_is_perfect_and_none_scores_zero() {
        let s = series();
        let mut d = vec![false; 1000];
        assert_eq!(score(&s, &d).normalized(), 0.0);
        d[500] = true;
        // NAB divides a true positive by the sigmoid's value at the window's first row.
        let early = score(&s, &d);
        assert_eq!(early.raw, 1.0);
        assert_eq!(early.normalized(), 100.0);
        d[500] = false;
        d[590] = true;
        assert!(score(&s, &d).normalized() < early.normalized());
    }

    #[test]
    fn probation_is_capped_at_750_rows() {
        assert_eq!(probation_rows(1000), 150);
        assert_eq!(probation_rows(4032), 604);
        assert_eq!(probation_rows(5000), 750);
        assert_eq!(probation_rows(10320), 750);
        // A false alarm at row 1000 of a 10 000-row series is scored (15 % would be 1500).
        let s = series_of(10_000, vec![(5000, 5099)]);
        let mut d = vec![false; 10_000];
        d[1000] = true;
        assert_eq!(score(&s, &d).false_alarms, 1);
        d[749] = true;
        assert_eq!(score(&s, &d).false_alarms, 1);
    }

    #[test]
    fn profiles_weigh_false_alarms_and_misses() {
        let s = series();
        let mut d = vec![false; 1000];
        d[300] = true;
        let std = score_with(&s, &d, &Profile::STANDARD);
        let low_fp = score_with(&s, &d, &Profile::REWARD_LOW_FP_RATE);
        let low_fn = score_with(&s, &d, &Profile::REWARD_LOW_FN_RATE);
        assert_eq!(std.raw, -1.0 - 0.11);
        assert_eq!(low_fp.raw, -1.0 - 0.22);
        assert_eq!(low_fn.raw, -2.0 - 0.11);
        assert_eq!((low_fn.null, low_fn.perfect), (-2.0, 1.0));
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
