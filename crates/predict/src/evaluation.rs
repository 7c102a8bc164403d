//! Scoring predictions against ground truth: alarm episodes, recall with a minimum lead time,
//! lead-time distribution, false alarms per 100 host-days, and one-step-ahead precision/recall.

use serde::Serialize;

/// How an alarm stream did against a set of events.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlarmStats {
    /// Events (e.g. crashes).
    pub events: usize,
    /// Events with an alarm at least the minimum lead time before them.
    pub detected_in_time: usize,
    /// detected_in_time / events.
    pub recall: f64,
    /// Median lead time of detected events.
    pub lead_median_s: Option<f64>,
    /// 10th percentile of lead time of detected events.
    pub lead_p10_s: Option<f64>,
    /// Alarm episodes not followed by an event on that host within the window.
    pub false_alarms: usize,
    /// False alarms per 100 host-days.
    pub false_alarms_per_100_host_days: f64,
    /// True episodes / all episodes.
    pub precision: f64,
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Scores alarms. `flags` are (time, host, flagged) per host-step in time order per host; `events`
/// (host, time). An episode is a run of flagged steps on one host; it is true when an event strikes
/// that host within `window_s` after the episode starts.
pub fn alarm_stats(
    flags: &[(f64, usize, bool)],
    events: &[(usize, f64)],
    step_s: f64,
    min_lead_s: f64,
    window_s: f64,
    host_days: f64,
) -> AlarmStats {
    // Episode start times per host.
    let mut episodes: Vec<(usize, f64)> = Vec::new();
    let mut last_flag: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for &(t, h, f) in flags {
        if !f {
            continue;
        }
        match last_flag.get(&h) {
            Some(&prev) if t - prev <= step_s * 1.5 => {}
            _ => episodes.push((h, t)),
        }
        last_flag.insert(h, t);
    }
    let true_episode = |&(h, start): &(usize, f64)| {
        events
            .iter()
            .any(|&(eh, et)| eh == h && et >= start && et - start <= window_s)
    };
    let true_count = episodes.iter().filter(|e| true_episode(e)).count();
    let false_alarms = episodes.len() - true_count;
    let mut leads = Vec::new();
    for &(eh, et) in events {
        let first = episodes
            .iter()
            .filter(|&&(h, s)| h == eh && s <= et && et - s <= window_s)
            .map(|&(_, s)| s)
            .fold(f64::INFINITY, f64::min);
        if first.is_finite() {
            leads.push(et - first);
        }
    }
    leads.sort_by(f64::total_cmp);
    let detected = leads.iter().filter(|&&l| l >= min_lead_s).count();
    AlarmStats {
        events: events.len(),
        detected_in_time: detected,
        recall: if events.is_empty() {
            0.0
        } else {
            detected as f64 / events.len() as f64
        },
        lead_median_s: quantile(&leads, 0.5),
        lead_p10_s: quantile(&leads, 0.1),
        false_alarms,
        false_alarms_per_100_host_days: false_alarms as f64 / host_days.max(1e-9) * 100.0,
        precision: if episodes.is_empty() {
            0.0
        } else {
            true_count as f64 / episodes.len() as f64
        },
    }
}

/// Precision and recall of binary predictions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Classification {
    /// Positives in the truth.
    pub positives: usize,
    /// Predicted positives.
    pub predicted: usize,
    /// Correctly predicted positives.
    pub true_positives: usize,
    /// tp / predicted.
    pub precision: f64,
    /// tp / positives.
    pub recall: f64,
}

/// Scores (predicted, actual) pairs.
pub fn classification(pairs: impl Iterator<Item = (bool, bool)>) -> Classification {
    let mut c = Classification::default();
    for (p, a) in pairs {
        c.positives += usize::from(a);
        c.predicted += usize::from(p);
        c.true_positives += usize::from(p && a);
    }
    c.precision = if c.predicted == 0 {
        0.0
    } else {
        c.true_positives as f64 / c.predicted as f64
    };
    c.recall = if c.positives == 0 {
        0.0
    } else {
        c.true_positives as f64 / c.positives as f64
    };
    c
}

/// The highest recall any probability threshold reaches while keeping precision at or above
/// `min_precision`, with that threshold (None when no threshold reaches the precision).
pub fn best_recall_at_precision(scored: &[(f64, bool)], min_precision: f64) -> Option<(f64, f64)> {
    let positives = scored.iter().filter(|s| s.1).count();
    if positives == 0 {
        return None;
    }
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best: Option<(f64, f64)> = None;
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].0;
        while i < sorted.len() && sorted[i].0 == t {
            if sorted[i].1 {
                tp += 1
            } else {
                fp += 1
            }
            i += 1;
        }
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / positives as f64;
        if precision >= min_precision && best.is_none_or(|(r, _)| recall > r) {
            best = Some((recall, t));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_alarm_is_detected_with_its_lead_and_stray_alarm_is_false() {
        let mut flags = Vec::new();
        for k in 0..20 {
            let t = k as f64 * 300.0;
            flags.push((t, 0, k >= 10)); // host 0 flagged from 3000 s
            flags.push((t, 1, k == 3)); // host 1: one stray alarm
        }
        let s = alarm_stats(&flags, &[(0, 4500.0)], 300.0, 600.0, 7200.0, 2.0);
        assert_eq!(s.detected_in_time, 1);
        assert_eq!(s.lead_median_s, Some(1500.0));
        assert_eq!(s.false_alarms, 1);
        assert_eq!(s.precision, 0.5);
    }
}
